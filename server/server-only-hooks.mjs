/**
 * Module resolve hook for plain Node processes (npm start, npm run bench, npm run token, the app
 * the tests spawn): `server-only` resolves to its `react-server` build, an empty module.
 *
 * db/ query modules import "server-only" so that Next.js refuses to bundle them into a client
 * component. Next resolves it itself when it bundles server code; Node, running server/main.ts
 * outside any bundle, would pick the package's default export, which throws on import. This is
 * the server, so the empty build is the right one. Registered by server/register-hooks.mjs.
 */
export async function resolve(specifier, context, nextResolve) {
  if (specifier !== "server-only") return nextResolve(specifier, context);
  // the package's own `exports` map says which file: only this one specifier gets the condition
  return nextResolve(specifier, { ...context, conditions: ["react-server", ...context.conditions] });
}
