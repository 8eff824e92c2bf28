// Operator login for the dashboard: an operator key exchanged for a signed session cookie.

import { loginBodySchema } from "../../routes/session.ts";
import { CSRF_HEADER } from "../../session.ts";
import { operation } from "../operation.ts";
import { currentSessionAnswerSchema, sessionAnswerSchema } from "../responses.ts";

const CSRF = {
  [CSRF_HEADER]: {
    description: "Any value; required on POST and DELETE (with a same-origin `Origin`, if sent).",
    required: true,
  },
};
const CSRF_REFUSED = `\`forbidden\`: cross-origin, or without the \`${CSRF_HEADER}\` header.`;

export const SESSION_OPERATIONS = [
  operation({
    method: "post",
    path: "/v1/session",
    operationId: "login",
    tag: "Session",
    summary: "Log in with an operator key",
    description:
      "Sets the session cookie (HttpOnly, Secure, SameSite=Strict) that the dashboard, the " +
      "analytics API and the operator GET routes accept instead of a bearer key. Never cached.",
    roles: [],
    headers: CSRF,
    body: loginBodySchema,
    bodyLimitBytes: 4 * 1024,
    responses: {
      200: {
        description: "Logged in; `Set-Cookie` carries the session.",
        schema: sessionAnswerSchema,
        headers: { "set-cookie": "The session cookie." },
      },
    },
    errors: {
      401: "`unauthorized`: the key is not configured.",
      403: `\`forbidden\`: not an operator key. Or ${CSRF_REFUSED.replace("`forbidden`: ", "")}`,
    },
    example: { headers: { [CSRF_HEADER]: "1" }, body: { key: "dev-operator-key" } },
  }),
  operation({
    method: "get",
    path: "/v1/session",
    operationId: "getSession",
    tag: "Session",
    summary: "The current session",
    roles: [],
    session: true,
    responses: {
      200: {
        description: "Who is logged in, until when; `session` is `null` without a valid session.",
        schema: currentSessionAnswerSchema,
      },
    },
    example: {},
  }),
  operation({
    method: "delete",
    path: "/v1/session",
    operationId: "logout",
    tag: "Session",
    summary: "Log out",
    description: "Clears the cookie.",
    roles: [],
    session: true,
    headers: CSRF,
    responses: { 204: { description: "Logged out." } },
    errors: { 403: CSRF_REFUSED },
    example: { headers: { [CSRF_HEADER]: "1" } },
  }),
];
