/**
 * The app's one connection to the relay (same origin, HTTPS). Every call that needs a session
 * takes it from the unlocked vault, so pages never handle tokens themselves.
 */
import { fetchTransport, type RelayTransport } from '$shared/protocol/relay-transport';

export const transport: RelayTransport = fetchTransport('');

export { RelayApiError } from '$shared/protocol/relay-transport';
