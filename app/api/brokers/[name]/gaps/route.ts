import { z } from "zod";
import { brokerGaps, findBroker } from "@/lib/brokers";
import { timeParam } from "@/lib/api/params";
import { route, segment } from "@/lib/api/route";
import { ApiError } from "@/lib/http";

export const dynamic = "force-dynamic";

const gapQuery = z.object({ from: timeParam.optional(), to: timeParam.optional() });

/** GET /api/brokers/{name}/gaps?from=&to= — intervals in which the collector could not see the broker. */
export const GET = route(
  { auth: "viewer", params: z.object({ name: segment }), query: gapQuery },
  async ({ caller, params: { name }, query }) => {
    if (!(await findBroker(caller, name))) throw new ApiError("not_found", `no broker named "${name}"`);
    const to = query.to ?? new Date();
    const from = query.from ?? new Date(to.getTime() - 24 * 3600_000);
    const gaps = await brokerGaps(caller, name, from, to);
    return {
      broker: name,
      gaps: gaps.map((g) => ({
        startedAt: g.startedAt.toISOString(),
        endedAt: g.endedAt?.toISOString() ?? null,
        reason: g.reason,
      })),
    };
  },
);
