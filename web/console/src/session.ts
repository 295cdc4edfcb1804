// Who is signed in, and what the mall says they may do (GET /admin/me). The server stays the judge:
// the console only uses this to say up front which actions the account lacks.
import { reactive } from "vue";
import { api, ok, storeToken, storedToken, type ApiError, type Schemas } from "./api/client";
import { sentence } from "./errors";

export const session = reactive({
  staff: null as Schemas["StaffView"] | null,
  notice: "" as string, // why the person was sent back to the login page
});

export function can(permission: string): boolean {
  return session.staff?.permissions?.includes(permission) ?? false;
}

export async function signIn(username: string, password: string): Promise<void> {
  const answer = await ok(api.POST("/admin/login", { body: { username, password } }));
  storeToken(answer.token);
  session.notice = "";
  await loadStaff();
}

export async function loadStaff(): Promise<Schemas["StaffView"] | null> {
  if (!storedToken()) return null;
  session.staff = await ok(api.GET("/admin/me"));
  return session.staff;
}

export async function signOut(): Promise<void> {
  try {
    if (storedToken()) await ok(api.POST("/admin/logout"));
  } finally {
    forget("");
  }
}

export function forget(notice: string): void {
  storeToken(null);
  session.staff = null;
  session.notice = notice;
}

/** The mall answered 401 to a signed-in request: back to the login page, saying why. */
export function signedOut(error: ApiError): void {
  forget(sentence(error) || error.message);
}
