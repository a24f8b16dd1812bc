/**
 * Which topics a member subscribes to, evaluated against the topics that
 * exist (name → partition count, from the metadata image).
 *
 * A subscription is a list of names or one regular expression. A regex must
 * match the whole topic name (as Kafka's `Pattern.matches`), and never
 * matches internal topics (names starting with `__`), so `.*` does not pull
 * in `__consumer_offsets`. Names of topics that do not exist yet are kept in
 * the subscription and start counting once the topic is created.
 *
 * @module
 */

import { StromError } from "@strom/client";
import { REGEX_CACHE_MAX, SUBSCRIPTION_REGEX_LENGTH_MAX } from "./config.ts";
import type { MemberMetadata } from "./group_state.ts";

/** Topics that exist: name → partition count. */
export type TopicsView = ReadonlyMap<string, number>;

/** Compiles subscription regexes, remembering the latest {@link REGEX_CACHE_MAX}. */
export class SubscriptionResolver {
  readonly #cache = new Map<string, RegExp>();

  /**
   * The compiled form of a subscription regex.
   *
   * @throws {StromError} INVALID_REGULAR_EXPRESSION when it does not compile or is too long.
   */
  compile(regex: string): RegExp {
    const cached = this.#cache.get(regex);
    if (cached) return cached;
    if (regex.length === 0 || regex.length > SUBSCRIPTION_REGEX_LENGTH_MAX) {
      throw new StromError(
        "INVALID_REGULAR_EXPRESSION",
        `subscription regex must have 1 to ${SUBSCRIPTION_REGEX_LENGTH_MAX} characters; got ${regex.length}`,
      );
    }
    let compiled: RegExp;
    try {
      compiled = new RegExp(`^(?:${regex})$`);
    } catch (e) {
      throw new StromError(
        "INVALID_REGULAR_EXPRESSION",
        `subscription regex '${regex}' does not compile: ${(e as Error).message}`,
      );
    }
    if (this.#cache.size >= REGEX_CACHE_MAX) {
      this.#cache.delete(this.#cache.keys().next().value!);
    }
    this.#cache.set(regex, compiled);
    return compiled;
  }

  /** The existing topics a member subscribes to, in name order. */
  topicsOf(member: MemberMetadata, topics: TopicsView): string[] {
    if (member.subscribedTopicRegex !== null) {
      const re = this.compile(member.subscribedTopicRegex);
      return [...topics.keys()].filter((t) => !t.startsWith("__") && re.test(t)).sort();
    }
    return member.subscribedTopicNames.filter((t) => topics.has(t)).sort();
  }

  /** Topic → partition count of every existing topic any of `members` subscribes to. */
  groupSubscription(members: Iterable<MemberMetadata>, topics: TopicsView): Map<string, number> {
    const names = new Set<string>();
    for (const m of members) for (const t of this.topicsOf(m, topics)) names.add(t);
    return new Map([...names].sort().map((t) => [t, topics.get(t)!]));
  }
}

/** Whether two topic → partition count maps are equal. */
export function sameTopicCounts(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>) {
  if (a.size !== b.size) return false;
  for (const [t, n] of a) if (b.get(t) !== n) return false;
  return true;
}
