/** Strings from an API go to a terminal: control characters could drive it, or break a table. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it replaces, so a reply cannot drive the terminal.
export const printable = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
