/**
 * What every page may know before anyone signs in: the enterprise's name and root CA
 * certificate, and the security policy. Public answers of the directory, re-read on demand.
 */
import { DEFAULT_POLICY, EnterpriseResponse, PolicySchema, type Policy } from '$shared/schemas/directory';
import { parseAnswer } from '$shared/protocol/account';
import { transport } from '../relay';

class Site {
  enterpriseName = $state<string | null>(null);
  setupDone = $state<boolean | null>(null);
  caCertificate = $state<string | null>(null);
  policy = $state<Policy>({ ...DEFAULT_POLICY });
  loaded = $state(false);

  async load(): Promise<void> {
    const [enterprise, policy] = await Promise.all([
      transport.request('GET', '/api/directory/enterprise').then((v) => parseAnswer(EnterpriseResponse, v, 'enterprise')),
      transport.request('GET', '/api/directory/policy').then((v) => parseAnswer(PolicySchema, v, 'policy')),
    ]);
    this.enterpriseName = enterprise.name;
    this.setupDone = enterprise.setupDone;
    this.caCertificate = enterprise.caCertificate;
    this.policy = policy;
    this.loaded = true;
  }
}

export const site = new Site();
