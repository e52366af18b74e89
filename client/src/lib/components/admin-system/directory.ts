/**
 * The directory calls of the system administrator's console. Every answer is parsed with its
 * wire schema: the relay is not trusted to answer in shape.
 */
import type { z } from 'zod';
import {
  AccountListResponse,
  AccountRequestListResponse,
  AccountRequestSchema,
  DepartmentListResponse,
  DepartmentSchema,
  InvitationAnswer,
  RoleRequestListResponse,
  RoleRequestSchema,
  type AccountProfile,
  type AccountRequest,
  type Role,
} from '$shared/schemas/directory';
import { parseAnswer } from '$shared/protocol/account';
import { vault } from '$lib/session/vault.svelte';

export type Department = z.infer<typeof DepartmentSchema>;
export type RoleRequest = z.infer<typeof RoleRequestSchema>;
export type Invitation = z.infer<typeof InvitationAnswer>;
export type RoleOp = RoleRequest['op'];
export type { AccountProfile, AccountRequest, Role };

/** The roles a system administrator may propose, in the order the console offers them. */
export const PROPOSABLE_ROLES: readonly Role[] = ['space-manager', 'system-admin', 'security-admin', 'auditor', 'employee'];

const BASE = '/api/directory';

export interface ConsoleData {
  accounts: AccountProfile[];
  departments: Department[];
  roleRequests: RoleRequest[];
  accountRequests: AccountRequest[];
}

export async function loadConsole(): Promise<ConsoleData> {
  const [accounts, departments, roleRequests, accountRequests] = await Promise.all([
    vault.call('GET', `${BASE}/accounts`).then((v) => parseAnswer(AccountListResponse, v, 'account list').accounts),
    vault.call('GET', `${BASE}/departments`).then((v) => parseAnswer(DepartmentListResponse, v, 'department list').departments),
    vault.call('GET', `${BASE}/role-requests`).then((v) => parseAnswer(RoleRequestListResponse, v, 'role request list').requests),
    vault.call('GET', `${BASE}/account-requests`).then((v) => parseAnswer(AccountRequestListResponse, v, 'account request list').requests),
  ]);
  return { accounts, departments, roleRequests, accountRequests };
}

export interface InviteInput {
  legalName: string;
  employeeNumber: string;
  contact: string;
  department?: string;
  username?: string;
}

export async function inviteEmployee(input: InviteInput): Promise<Invitation> {
  return parseAnswer(InvitationAnswer, await vault.call('POST', `${BASE}/accounts`, input), 'invitation');
}

export async function addDepartment(name: string): Promise<Department> {
  return parseAnswer(DepartmentSchema, await vault.call('POST', `${BASE}/departments`, { name }), 'department');
}

export async function proposeRole(account: string, role: Role, op: RoleOp): Promise<RoleRequest> {
  return parseAnswer(RoleRequestSchema, await vault.call('POST', `${BASE}/role-requests`, { account, role, op }), 'role request');
}

export async function requestDisabling(account: string, reason: string): Promise<AccountRequest> {
  return parseAnswer(AccountRequestSchema, await vault.call('POST', `${BASE}/account-requests`, { kind: 'disable', account, reason }), 'account request');
}

/** A readable time in the current language. */
export function when(iso: string, lang: 'en' | 'zh'): string {
  return new Date(iso).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en');
}
