/**
 * What makes a password acceptable at registration and password change: the enterprise's
 * minimum length (security policy, default 12) and an estimated strength of at least 3 of 4 by
 * zxcvbn-ts, whose dictionary of common passwords also catches "Password123!" style choices.
 * The dictionaries are about 1 MB, so they load only on the pages that ask for a new password.
 */
import type { MessageKey } from '../i18n/messages';

export interface PasswordAssessment {
  /** 0 (guessable) .. 4 (very strong) */
  score: number;
  ok: boolean;
  problems: MessageKey[];
}

type Checker = (password: string, userInputs: string[]) => { score: number; common: boolean };
let checker: Promise<Checker> | null = null;

function loadChecker(): Promise<Checker> {
  checker ??= (async () => {
    const [{ ZxcvbnFactory }, common] = await Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common')]);
    const zxcvbn = new ZxcvbnFactory({ dictionary: { ...common.dictionary }, graphs: common.adjacencyGraphs });
    const commonSet = new Set(common.dictionary['passwords-common'].map((p) => p.toLowerCase()));
    return (password, userInputs) => {
      const result = zxcvbn.check(password, userInputs);
      return { score: result.score, common: commonSet.has(password.toLowerCase()) };
    };
  })();
  return checker;
}

export const MIN_STRENGTH_SCORE = 3;

export async function assessPassword(password: string, minLength: number, userInputs: string[] = []): Promise<PasswordAssessment> {
  const problems: MessageKey[] = [];
  if ([...password].length < minLength) problems.push('pw.tooShort');
  const { score, common } = (await loadChecker())(password, userInputs.filter((s) => s.length > 0));
  if (common) problems.push('pw.common');
  else if (score < MIN_STRENGTH_SCORE) problems.push('pw.weak');
  return { score, ok: problems.length === 0, problems };
}
