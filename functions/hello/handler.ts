import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";

import { greet } from "../lib/greeting";

/**
 * Handles GET /hello on the REST API. `?name=Ada` changes who is greeted, and the
 * GREETING environment variable (set in infra/rest_api.tf) changes the greeting word.
 */
export const main = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  const name = event.queryStringParameters?.name || "world";
  const greeting = process.env.GREETING || "Hello";

  return {
    statusCode: 200,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: greet(name, greeting) }),
  };
};
