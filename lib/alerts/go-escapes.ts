/**
 * The one-character escapes of Go's strconv.Unquote in a double-quoted string: Prometheus reads
 * PromQL string literals with it and text/template reads a template's string constants with it.
 */
export const GO_STRING_ESCAPES: Readonly<Record<string, string>> = {
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
  '"': '"',
};
