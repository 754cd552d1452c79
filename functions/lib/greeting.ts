/** Builds a greeting such as "Hello, world!" from a greeting word and a name. */
export function greet(name: string, greeting: string): string {
  return `${greeting}, ${name}!`;
}
