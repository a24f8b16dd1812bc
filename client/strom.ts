/**
 * The entry point of `@strom/client`: one {@link Strom} per application
 * holds the connections to the cluster and hands out producers, consumers
 * and the admin client, which all share its connections and metadata.
 *
 * @module
 */

import { Admin } from "./admin/admin.ts";
import { Connection } from "./connection/connection.ts";
import type { StromOptions } from "./connection/connection.ts";
import { Consumer } from "./consumer/consumer.ts";
import type { ConsumerOptions } from "./consumer/consumer.ts";
import { Producer } from "./producer/producer.ts";
import type { ProducerOptions } from "./producer/producer.ts";

export type { StromOptions };

/**
 * A client of one Strom cluster.
 *
 * @example
 * ```ts ignore
 * import { Strom } from "@strom/client";
 *
 * const strom = new Strom({ brokers: ["http://127.0.0.1:9092", "http://127.0.0.1:9093"] });
 * await strom.admin().createTopic({ name: "greetings", partitions: 3 });
 * const producer = strom.producer();
 * const { partition, offset } = await producer.send({ topic: "greetings", key: "a", value: "hello" });
 * const consumer = strom.consumer();
 * consumer.assign([{ topic: "greetings", partition, offset }]);
 * for await (const record of consumer) {
 *   console.log(new TextDecoder().decode(record.value!)); // "hello"
 *   break;
 * }
 * await strom.close(); // closes the producer and consumer too
 * ```
 */
export class Strom {
  /** Connections, metadata and failover, shared by everything this client creates. */
  readonly connection: Connection;
  readonly #producers = new Set<Producer>();
  readonly #consumers = new Set<Consumer>();
  #admin: Admin | undefined;

  constructor(options: StromOptions) {
    this.connection = new Connection(options);
  }

  /** A new producer; see {@link ProducerOptions} for batching, compression, acks and limits. */
  producer(options: ProducerOptions = {}): Producer {
    const producer: Producer = new Producer(
      this.connection,
      options,
      () => this.#producers.delete(producer),
    );
    this.#producers.add(producer);
    return producer;
  }

  /** A new consumer with manual assignment; see {@link ConsumerOptions}. */
  consumer(options: ConsumerOptions = {}): Consumer {
    const consumer: Consumer = new Consumer(
      this.connection,
      options,
      () => this.#consumers.delete(consumer),
    );
    this.#consumers.add(consumer);
    return consumer;
  }

  /** The admin client (topics, configs, cluster, offsets). */
  admin(): Admin {
    this.#admin ??= new Admin(this.connection);
    return this.#admin;
  }

  /** Flushes and closes every producer, closes every consumer, then the connections. */
  async close(): Promise<void> {
    await Promise.all([...this.#producers].map((p) => p.close()));
    await Promise.all([...this.#consumers].map((c) => c.close()));
    await this.connection.close();
  }
}
