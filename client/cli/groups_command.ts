/**
 * `strom groups list|describe|reset-offsets|delete`: Kafka's
 * `kafka-consumer-groups.sh` over `/v1/groups` (any broker answers; it
 * forwards to the group's coordinator).
 *
 * @module
 */

import type { Strom } from "../strom.ts";
import type { CliIo } from "./cli_io.ts";
import { UsageError } from "./cli_io.ts";
import { intFlag, parseFlags, required } from "./options.ts";
import { table } from "./table.ts";

/** Usage of `strom groups`. */
export const GROUPS_USAGE = `usage: strom groups list|describe|reset-offsets|delete [options]

Actions:
  list                          every group: state and member count
  describe --group G            members with their assignment, and per partition the committed
                                offset, the high watermark (log end) and the lag
  reset-offsets --group G       move the committed offsets of a group without active members:
      --to-earliest | --to-latest | --to-datetime MS | --to-offset N   (one is required)
      [--topic T]               only T's partitions (default: every topic the group committed)
  delete --group G              delete a group without active members, with its offsets

Options:
  --bootstrap-server URL   a broker's client URL (default http://127.0.0.1:9092)
  --json                   print JSON instead of tables
  -h, --help               show this help

Examples:
  strom groups describe --group billing
  strom groups reset-offsets --group billing --topic orders --to-earliest`;

const OPTIONS = {
  group: { type: "string" },
  topic: { type: "string" },
  "to-earliest": { type: "boolean" },
  "to-latest": { type: "boolean" },
  "to-datetime": { type: "string" },
  "to-offset": { type: "string" },
} as const;

/** Parses the flags of `strom groups`. */
export function parseGroupsFlags(args: string[]) {
  return parseFlags(args, OPTIONS, GROUPS_USAGE).values;
}

interface PartitionRow {
  topic: string;
  partition: number;
  memberId: string | null;
  committedOffset: number | null;
  highWatermark: number | null;
  lag: number | null;
}

interface MemberRow {
  memberId: string;
  instanceId: string | null;
  memberEpoch: number;
  state: string;
  assigned: { topic: string; partitions: number[] }[];
  pendingRevocation: { topic: string; partitions: number[] }[];
}

/** Runs `strom groups <action>`; returns the exit code. */
export async function groupsCommand(
  action: string | undefined,
  flags: ReturnType<typeof parseGroupsFlags>,
  strom: Strom,
  io: CliIo,
): Promise<number> {
  const u = GROUPS_USAGE;
  const conn = strom.connection;
  const path = (g: string) => `/v1/groups/${encodeURIComponent(g)}`;
  switch (action) {
    case "list": {
      const r = await conn.anyBroker<
        { groups: { groupId: string; state: string; members: number }[] }
      >(
        { path: "/v1/groups" },
      );
      if (flags.json) io.out(JSON.stringify(r));
      else {
        io.out(table(
          ["GROUP", "STATE", "MEMBERS"],
          r.groups.map((g) => [g.groupId, g.state, String(g.members)]),
        ));
      }
      return 0;
    }
    case "describe": {
      const group = required(flags.group, "--group", u);
      const d = await conn.anyBroker<
        { state: string; groupEpoch: number; members: MemberRow[]; partitions: PartitionRow[] }
      >({ path: path(group) });
      if (flags.json) {
        io.out(JSON.stringify(d));
        return 0;
      }
      io.out(`Group ${group}: ${d.state}, epoch ${d.groupEpoch}, ${d.members.length} member(s)\n`);
      const dash = (n: number | null) => n === null ? "-" : String(n);
      io.out(table(
        ["TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "MEMBER-ID"],
        d.partitions.map((p) => [
          p.topic,
          String(p.partition),
          dash(p.committedOffset),
          dash(p.highWatermark),
          dash(p.lag),
          p.memberId ?? "-",
        ]),
      ));
      if (d.members.length > 0) {
        const list = (a: { topic: string; partitions: number[] }[]) =>
          a.map((tp) => `${tp.topic}:${tp.partitions.join(",")}`).join(" ") || "-";
        io.out("");
        io.out(table(
          ["MEMBER-ID", "INSTANCE-ID", "EPOCH", "STATE", "ASSIGNED", "REVOKING"],
          d.members.map((m) => [
            m.memberId,
            m.instanceId ?? "-",
            String(m.memberEpoch),
            m.state,
            list(m.assigned),
            list(m.pendingRevocation),
          ]),
        ));
      }
      return 0;
    }
    case "reset-offsets": {
      const group = required(flags.group, "--group", u);
      const to = resetTarget(flags);
      const r = await conn.anyBroker<
        { offsets: { topic: string; partition: number; offset: number }[] }
      >({
        method: "POST",
        path: `${path(group)}/offsets/reset`,
        body: { to, ...(flags.topic === undefined ? {} : { topic: flags.topic }) },
      });
      if (flags.json) io.out(JSON.stringify(r));
      else {
        io.out(table(
          ["TOPIC", "PARTITION", "NEW-OFFSET"],
          r.offsets.map((o) => [o.topic, String(o.partition), String(o.offset)]),
        ));
      }
      return 0;
    }
    case "delete": {
      const group = required(flags.group, "--group", u);
      const r = await conn.anyBroker<{ deletedOffsets: number }>({
        method: "DELETE",
        path: path(group),
      });
      if (flags.json) io.out(JSON.stringify(r));
      else io.out(`Deleted group ${group} (${r.deletedOffsets} committed offsets)`);
      return 0;
    }
    case undefined:
      throw new UsageError("groups needs an action", u);
    default:
      throw new UsageError(`unknown groups action "${action}"`, u);
  }
}

function resetTarget(
  flags: ReturnType<typeof parseGroupsFlags>,
): "earliest" | "latest" | { timestampMs: number } | { offset: number } {
  const u = GROUPS_USAGE;
  const chosen: ("earliest" | "latest" | { timestampMs: number } | { offset: number })[] = [];
  if (flags["to-earliest"]) chosen.push("earliest");
  if (flags["to-latest"]) chosen.push("latest");
  const ts = intFlag(flags["to-datetime"], "--to-datetime", u);
  if (ts !== undefined) chosen.push({ timestampMs: ts });
  const offset = intFlag(flags["to-offset"], "--to-offset", u);
  if (offset !== undefined) chosen.push({ offset });
  if (chosen.length !== 1) {
    throw new UsageError(
      "give exactly one of --to-earliest, --to-latest, --to-datetime MS, --to-offset N",
      u,
    );
  }
  return chosen[0];
}
