/** Departments: the org structure the system administrator edits; accounts may name one. */
import type { Hono } from 'hono';
import { CreateDepartmentRequest, DepartmentListResponse, DepartmentSchema } from '../../../shared/schemas/directory';
import { readJson } from '../../common/validate';
import { insertDepartment, listDepartments } from '../accounts-store';
import type { DirectoryDeps } from '../deps';
import { requireRole, requireSession, type DirectoryEnv } from '../sessions';
import { randomId } from '../util';

export function departmentRoutes(app: Hono<DirectoryEnv>, { db, api, now, ctx, sessions }: DirectoryDeps): void {
  const auth = requireSession(sessions);

  api.add({ method: 'get', path: '/departments', summary: 'All departments', auth: 'session', response: DepartmentListResponse });
  app.get('/departments', auth, (c) => c.json({ departments: listDepartments(db) }));

  api.add({ method: 'post', path: '/departments', summary: 'Create a department (system-admin)', auth: 'session', body: CreateDepartmentRequest, response: DepartmentSchema, errors: { 409: 'name taken' } });
  app.post('/departments', auth, requireRole('system-admin'), async (c) => {
    const body = await readJson(c, CreateDepartmentRequest, 4 * 1024);
    const caller = c.get('caller');
    const id = randomId();
    insertDepartment(db, { id, name: body.name, createdBy: caller.account.id, now: now() });
    await ctx.audit.record({ actor: caller.account.id, action: 'department.create', target: `department:${id}`, outcome: 'ok', details: { name: body.name } });
    return c.json({ id, name: body.name });
  });
}
