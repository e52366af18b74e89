/**
 * Every word the app shows, in English and Chinese. Error codes from the crypto core are mapped
 * to words here and nowhere else.
 */
import type { ErrorCode } from '$shared/crypto/errors';
import { accountsEn, accountsZh } from './messages-accounts';
import { adminSecurityEn, adminSecurityZh } from './messages-admin-security';
import { auditEn, auditZh } from './messages-audit';
import { adminSystemEn, adminSystemZh } from './messages-admin-system';
import { contractsEn, contractsZh } from './messages-contracts';
import { relayErrorsEn, relayErrorsZh } from './messages-relay-errors';
import { sealsEn, sealsZh } from './messages-seals';
import { signingEn, signingZh } from './messages-signing';

const coreEn = {
  'app.tagline': 'Zero-knowledge contract vault',
  'lang.switch': '中文',
  'status.title': 'This browser',
  'status.secure': 'Secure context (HTTPS)',
  'status.insecure': 'Not a secure context: Sealvault only unlocks over HTTPS.',
  'status.webcrypto': 'WebCrypto available',
  'status.relay': 'Relay',
  'status.relay.ok': 'reachable, version {version}',
  'status.relay.down': 'unavailable: {reason}',
  'kdf.title': 'Key derivation check',
  'kdf.help': 'Derives the password half of a key with Argon2id (64 MiB, 3 passes) in a background worker, as login will. Nothing is sent anywhere.',
  'kdf.password': 'Test password',
  'kdf.run': 'Derive',
  'kdf.running': 'Deriving… {percent}% (estimated)',
  'kdf.done': 'Derived in {ms} ms',
  'file.title': 'Local encryption check',
  'file.help': 'Encrypts a file of your choice in this browser with the Sealvault file format, decrypts it again and compares. The file never leaves this device.',
  'file.choose': 'Choose a file',
  'file.encrypting': 'Encrypting… {percent}%',
  'file.decrypting': 'Decrypting and comparing… {percent}%',
  'file.done': '{size} encrypted and decrypted intact: {mbps} MB/s',
  'file.mismatch': 'The decrypted file differs from the original.',
  'file.preview': 'The decrypted copy, shown from this browser’s memory: no file was saved and nothing was sent.',
  'file.previewTooLarge': 'This PDF is larger than {size}, so it is not shown here.',
  'pdf.viewer': 'PDF viewer',
  'pdf.toolbar': 'Pages and zoom',
  'pdf.loading': 'Opening the PDF…',
  'pdf.previous': 'Previous',
  'pdf.next': 'Next',
  'pdf.pageOf': 'Page {page} of {pages}',
  'pdf.pageImage': 'Page {page} of {pages} of the document',
  'pdf.zoomIn': 'Zoom in',
  'pdf.zoomOut': 'Zoom out',
  'pdf.fitWidth': 'Fit width',
  'pdf.zoomLevel': '{percent}%',
  'pdf.keys': 'Arrow keys, Page Up and Page Down turn the pages; + and − zoom.',
  'pdf.error.invalid': 'This file is not a PDF, or it is damaged: it cannot be shown.',
  'pdf.error.password': 'This PDF is protected by a password and cannot be shown here.',
  'pdf.error.other': 'The PDF could not be shown: {reason}',
  'error.prefix': 'Refused',
} as const;

const coreZh: Record<keyof typeof coreEn, string> = {
  'app.tagline': '零知识合同保险库',
  'lang.switch': 'English',
  'status.title': '本浏览器',
  'status.secure': '安全上下文（HTTPS）',
  'status.insecure': '不是安全上下文：Sealvault 只在 HTTPS 下解锁。',
  'status.webcrypto': 'WebCrypto 可用',
  'status.relay': '中继服务',
  'status.relay.ok': '可访问，版本 {version}',
  'status.relay.down': '不可用：{reason}',
  'kdf.title': '密钥派生检查',
  'kdf.help': '在后台线程中用 Argon2id（64 MiB，3 轮）派生密钥的口令部分，与登录时相同。不会发送任何数据。',
  'kdf.password': '测试口令',
  'kdf.run': '派生',
  'kdf.running': '正在派生… {percent}%（估计）',
  'kdf.done': '用时 {ms} 毫秒',
  'file.title': '本地加密检查',
  'file.help': '在本浏览器中用 Sealvault 文件格式加密您选择的文件，再解密并比对。文件不会离开本设备。',
  'file.choose': '选择文件',
  'file.encrypting': '正在加密… {percent}%',
  'file.decrypting': '正在解密并比对… {percent}%',
  'file.done': '{size} 加密并解密无误：{mbps} MB/s',
  'file.mismatch': '解密后的文件与原文件不同。',
  'file.preview': '以下是解密后的副本，直接从本浏览器的内存中显示：没有保存任何文件，也没有发送任何数据。',
  'file.previewTooLarge': '此 PDF 大于 {size}，因此不在此显示。',
  'pdf.viewer': 'PDF 查看器',
  'pdf.toolbar': '翻页与缩放',
  'pdf.loading': '正在打开 PDF…',
  'pdf.previous': '上一页',
  'pdf.next': '下一页',
  'pdf.pageOf': '第 {page} 页，共 {pages} 页',
  'pdf.pageImage': '文档第 {page} 页（共 {pages} 页）',
  'pdf.zoomIn': '放大',
  'pdf.zoomOut': '缩小',
  'pdf.fitWidth': '适合宽度',
  'pdf.zoomLevel': '{percent}%',
  'pdf.keys': '方向键、Page Up 和 Page Down 翻页；+ 和 − 缩放。',
  'pdf.error.invalid': '此文件不是 PDF，或已损坏，无法显示。',
  'pdf.error.password': '此 PDF 受密码保护，无法在此显示。',
  'pdf.error.other': 'PDF 无法显示：{reason}',
  'error.prefix': '已拒绝',
};

export const errorWords: Record<'en' | 'zh', Record<ErrorCode | 'E_INTERNAL', string>> = {
  en: {
    E_FORMAT: 'The data is malformed or uses a format this version does not accept.',
    E_AUTH: 'The data did not authenticate: it was changed, or the key is wrong.',
    E_TRUNCATED: 'The data is cut short: part of it is missing.',
    E_COMMITMENT: 'The file does not belong to this key or place (key commitment mismatch).',
    E_CONTEXT: 'The data belongs to another contract, file, version or account.',
    E_KDF_PARAMS: 'The server asked for key-derivation settings outside the safe range; refusing to continue.',
    E_KEY_WEAK: 'A key is too weak or malformed to be used.',
    E_SIGNATURE: 'A signature is missing or invalid: the data was not written by who it claims.',
    E_HASH: 'A stored block does not match its signed fingerprint.',
    E_PROOF: 'The audit log proof does not verify.',
    E_LIMIT: 'The data exceeds a size or count limit.',
    E_ROLLBACK: 'The server sent something older than what this browser has already seen.',
    E_INTERNAL: 'Something went wrong in this browser.',
  },
  zh: {
    E_FORMAT: '数据格式错误，或使用了本版本不接受的格式。',
    E_AUTH: '数据未通过认证：已被篡改，或密钥不正确。',
    E_TRUNCATED: '数据不完整：部分内容缺失。',
    E_COMMITMENT: '该文件不属于此密钥或位置（密钥承诺不匹配）。',
    E_CONTEXT: '该数据属于其他合同、文件、版本或账户。',
    E_KDF_PARAMS: '服务器要求的密钥派生参数超出安全范围，已拒绝继续。',
    E_KEY_WEAK: '密钥强度不足或格式错误，无法使用。',
    E_SIGNATURE: '签名缺失或无效：数据并非由声称的作者写入。',
    E_HASH: '存储的数据块与其签名指纹不符。',
    E_PROOF: '审计日志证明验证失败。',
    E_LIMIT: '数据超出大小或数量限制。',
    E_ROLLBACK: '服务器发送的内容比本浏览器已见过的更旧。',
    E_INTERNAL: '本浏览器内部出错。',
  },
};

const en = { ...coreEn, ...accountsEn, ...adminSystemEn, ...adminSecurityEn, ...contractsEn, ...sealsEn, ...signingEn, ...auditEn };
export type MessageKey = keyof typeof en;
const zh: Record<MessageKey, string> = { ...coreZh, ...accountsZh, ...adminSystemZh, ...adminSecurityZh, ...contractsZh, ...sealsZh, ...signingZh, ...auditZh };

export const messages = { en, zh } as const;
/** Words for the relay's error codes; unknown codes fall back to the relay's own message. */
export const relayErrorWords: Record<'en' | 'zh', Record<string, string>> = { en: relayErrorsEn, zh: relayErrorsZh };
export type Lang = keyof typeof messages;
