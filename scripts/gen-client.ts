// `npm run client:gen`: writes client/api.ts, the typed client's types, from the OpenAPI document.
import { writeFileSync } from "node:fs";
import { openApiDocument } from "../worker/openapi/document.ts";
import { clientSource } from "./client-types.ts";

const target = new URL("../client/api.ts", import.meta.url);
writeFileSync(target, clientSource(openApiDocument()));
console.log(`wrote ${target.pathname}`);
