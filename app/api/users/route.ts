import { jsonObject, route } from "@/lib/api/route";
import { getRuntime } from "@/lib/runtime";
import { addUser, userSettings } from "@/lib/settings/users";

export const dynamic = "force-dynamic";

/** GET /api/users — who can sign in to the UI, with their role; never a password hash. */
export const GET = route({ auth: "viewer" }, async ({ caller }) => ({ users: await userSettings(caller) }));

/** POST /api/users (admin) — `{ username, password, role }` (role admin|viewer); 201 with the user. */
export const POST = route({ auth: "admin", body: jsonObject }, async ({ body }) =>
  Response.json({ user: await addUser(getRuntime().database.db, body) }, { status: 201 }),
);
