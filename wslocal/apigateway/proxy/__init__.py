"""API Gateway's rules for REST APIs (v1) and HTTP APIs (v2) with Lambda proxy
integrations, as a pure core beside the WebSocket one: which route answers a request
(``routes``), the event the function gets (``events``), what its result means on the
wire (``responses``), and the API's own CORS answers (``cors``). No sockets."""
