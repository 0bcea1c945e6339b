/**
 * Where a request goes when each route is a function of its own, as Vercel deploys the files
 * under api/: to the function of the longest route the path starts with; a target no route
 * matches (`//evil.example/…`) to the first function, so that the function is what answers it.
 */
export function originForPath(origins: Readonly<Record<string, string>>, path: string): string {
  const pathname = path.split("?")[0];
  const routes = Object.keys(origins);
  const matching = routes.filter((route) => pathname === route || pathname.startsWith(`${route}/`)).sort((a, b) => b.length - a.length);
  return origins[matching[0] ?? routes[0]];
}
