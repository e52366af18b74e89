import { isCryptoError } from '$shared/crypto/errors';
import { RelayApiError } from '$shared/protocol/relay-transport';
import { errorWords, messages, relayErrorWords, type Lang, type MessageKey } from './messages';

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

  /** Whether `key` names a message: for keys built from data, such as an audit action. */
  has = (key: string): key is MessageKey => Object.hasOwn(messages[this.current], key);

  /** A readable sentence for any thrown value; crypto refusals by their code. */
  error = (e: unknown): string => {
    const words = errorWords[this.current];
    if (isCryptoError(e)) return `${this.t('error.prefix')} (${e.code}): ${words[e.code]}`;
    if (e instanceof RelayApiError) {
      const known = relayErrorWords[this.current][e.code];
      // The relay's own sentence adds the specifics (which field, which rule) to the general words.
      return known ? `${known} (${e.code}: ${e.message})` : `${e.message} (${e.code})`;
    }
    if (e instanceof TypeError && /fetch/i.test(e.message)) return this.t('error.network');
    return `${words.E_INTERNAL} ${e instanceof Error ? e.message : String(e)}`;
  };
}

export const locale = new Locale();
