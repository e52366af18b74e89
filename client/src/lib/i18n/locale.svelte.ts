import { isCryptoError } from '$shared/crypto/errors';
import { errorWords, messages, type Lang, type MessageKey } from './messages';

const STORAGE_KEY = 'sealvault.lang';

function initialLang(): Lang {
  const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
  if (saved === 'en' || saved === 'zh') return saved;
  return globalThis.navigator?.language?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

class Locale {
  current = $state<Lang>(initialLang());

  constructor() {
    this.applyToDocument();
  }

  set(lang: Lang) {
    this.current = lang;
    globalThis.localStorage?.setItem(STORAGE_KEY, lang);
    this.applyToDocument();
  }

  private applyToDocument() {
    globalThis.document?.documentElement.setAttribute('lang', this.current === 'zh' ? 'zh-CN' : 'en');
  }

  t = (key: MessageKey, params: Record<string, string | number> = {}): string =>
    messages[this.current][key].replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`));

  /** A readable sentence for any thrown value; crypto refusals by their code. */
  error = (e: unknown): string => {
    const words = errorWords[this.current];
    if (isCryptoError(e)) return `${this.t('error.prefix')} (${e.code}): ${words[e.code]}`;
    return `${words.E_INTERNAL} ${e instanceof Error ? e.message : String(e)}`;
  };
}

export const locale = new Locale();
