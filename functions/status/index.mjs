// Handles GET /status on the HTTP API. The return value has no statusCode, so API Gateway
// (payload format 2.0) sends it as a 200 response with a JSON body.
export const handler = async (event) => ({
  status: "ok",
  stage: process.env.STAGE,
  path: event.rawPath,
});
