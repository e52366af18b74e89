/**
 * Plaintext the end-to-end tests put into contracts, for the last test to look for in every relay
 * database and block store: none of it may be there. Each is unusual enough to appear nowhere
 * else by chance.
 */
export const E2E_MARKERS = {
  counterparty: 'Zephyrine Holdings 泽菲琳控股',
  fileText: 'SEALVAULT-PLAINTEXT-MARKER-7f3a9c',
};
