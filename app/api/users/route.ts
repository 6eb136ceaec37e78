import { authorize } from "@/lib/auth/api";
import { errorResponse } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";
import { readJsonObject } from "@/lib/settings/input";
import { addUser, userSettings } from "@/lib/settings/users";

export const dynamic = "force-dynamic";

/** GET /api/users — who can sign in to the UI, with their role; never a password hash. */
export async function GET(request: Request): Promise<Response> {
  try {
    await authorize(request);
    return Response.json({ users: await userSettings(getRuntime().database.db) });
  } catch (err) {
    return errorResponse(err);
  }
}

/** POST /api/users (admin) — `{ username, password, role }` (role admin|viewer); 201 with the user. */
export async function POST(request: Request): Promise<Response> {
  try {
    await authorize(request, "admin");
    const body = await readJsonObject(request);
    return Response.json({ user: await addUser(getRuntime().database.db, body) }, { status: 201 });
  } catch (err) {
    return errorResponse(err);
  }
}
