/**
 * Wire shapes the contract pages read (the relay's own schemas, from shared/schemas), and the
 * shape of the file entries the app keeps inside a contract's encrypted fields.
 */
import { z } from 'zod';
import { PeopleResponse, PersonSchema } from '$shared/schemas/directory';
import { MySpacesSchema } from '$shared/schemas/keys';

/** GET /api/keys/spaces: the spaces the caller is a member of, with its role in each. */
export const MySpacesResponse = MySpacesSchema;
export type MySpace = z.infer<typeof MySpacesSchema>['spaces'][number];

/** GET /api/directory/people?q=&limit=: the phone book (active accounts only). */
export { PeopleResponse };
export type Person = z.infer<typeof PersonSchema>;

/**
 * What the app keeps about a file inside the contract's encrypted fields, under the extra key
 * `file:<fileId>` (until files get their own record): its name, media type and size.
 */
export const FileMetaSchema = z.object({
  name: z.string().min(1).max(300),
  type: z.string().max(200),
  size: z.number().int().min(0),
});
export type FileMeta = z.infer<typeof FileMetaSchema>;
