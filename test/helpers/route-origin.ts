/**
 * Where a request goes when routes are served by functions of their own, as Vercel routes each
 * `.func` of its build output: to the function of the longest route the path starts with; a target no route
 * matches (`//evil.example/…`) to the first function, so that the function is what answers it.
 */
export function originForPath(origins: Readonly<Record<string, string>>, path: string): string {
  const pathname = path.split("?")[0];
  const routes = Object.keys(origins);
  const matching = routes.filter((route) => pathname === route || pathname.startsWith(`${route}/`)).sort((a, b) => b.length - a.length);
  return origins[matching[0] ?? routes[0]];
}
