// The part of autocannon's API the overhead benchmark uses (the package ships no types).
declare module "autocannon" {
  import type { EventEmitter } from "node:events";

  interface Options {
    url: string;
    method?: "GET" | "POST";
    headers?: Record<string, string>;
    body?: string;
    connections?: number;
    pipelining?: number;
    /** Seconds. */
    duration?: number;
    timeout?: number;
  }

  interface Result {
    errors: number;
    timeouts: number;
    non2xx: number;
    "2xx": number;
  }

  interface Instance extends EventEmitter {
    on(
      event: "response",
      fn: (client: unknown, status: number, bytes: number, ms: number) => void,
    ): this;
    on(event: "done", fn: (result: Result) => void): this;
    on(event: "error" | "reqError", fn: (err: Error) => void): this;
    stop(): void;
  }

  function autocannon(options: Options): Instance;
  export default autocannon;
}
