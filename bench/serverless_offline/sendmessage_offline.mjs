// The sample's sendmessage handler, its Management API calls aimed at serverless-offline.
import "./management.mjs";

export { handler } from "./sendmessage/app.js";
