/**
 * Topic name rules, as Kafka's: 1 to 249 characters of `[a-zA-Z0-9._-]`,
 * not `.` or `..`. Names that differ only in `.` versus `_` collide in
 * Kafka's metric names; Strom keeps Kafka's rule so topics can move between
 * the two.
 *
 * @module
 */

/** The longest topic name. */
export const TOPIC_NAME_CHARS_MAX = 249;

/** Why `name` is not a valid topic name, or null if it is. */
export function topicNameProblem(name: unknown): string | null {
  if (typeof name !== "string" || name.length === 0) return "topic name must be a non-empty string";
  if (name.length > TOPIC_NAME_CHARS_MAX) {
    return `topic name is ${name.length} characters; at most ${TOPIC_NAME_CHARS_MAX} are allowed`;
  }
  if (name === "." || name === "..") return `topic name cannot be "." or ".."`;
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) {
    return `topic name "${name}" may only contain letters, digits, ".", "_" and "-"`;
  }
  return null;
}

/** Kafka's collision rule: `a.b` and `a_b` cannot both exist. */
export function collisionKey(name: string): string {
  return name.replaceAll(".", "_");
}
