/** The PAdES core (docs/SIGNING.md section 1): runs unchanged in browsers and in Node. */
export { signPdf, type PdfSignOptions, type PdfStamp } from './sign';
export { verifyPdfSignatures, type PdfRevocation, type PdfSignatureReport, type PdfSignatureStatus, type PdfSigner, type VerifyPdfOptions } from './verify';
