/**
 * Producer id blocks from the active controller: the "producer-ids"
 * operation, which commits a `ProducerIds` record so a block is never handed
 * out twice, even across controller failover.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { ControllerClient } from "../controller/controller_client.ts";
import type { ProducerIdBlock } from "./producer_id_manager.ts";

/** How long one block request may take, retries included. */
export const PRODUCER_ID_BLOCK_TIMEOUT_MS = 10_000;

/** An `allocateBlock` for {@link ProducerIdManager} that asks the controller. */
export function controllerBlockSource(
  controller: Pick<ControllerClient, "call">,
  broker: { readonly brokerId: number; readonly brokerEpoch: () => number | undefined },
): () => Promise<ProducerIdBlock> {
  return async () => {
    const brokerEpoch = broker.brokerEpoch();
    if (brokerEpoch === undefined) {
      throw new StromError(
        "NOT_READY",
        "this broker is not registered with the controller yet, so it cannot hand out producer ids; retry shortly",
      );
    }
    const { response } = await controller.call<ProducerIdBlock>(
      "producer-ids",
      { brokerId: broker.brokerId, brokerEpoch },
      PRODUCER_ID_BLOCK_TIMEOUT_MS,
    );
    return response;
  };
}
