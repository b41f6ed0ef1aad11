// Where the page connects. null: the host that served the page (the local stage).
// `python3 scripts/page_config.py --stack serverless-chat` writes the deployed
// WebSocketURL here; `?ws=wss://...` in the page's URL overrides either.
window.CHAT_CONFIG = { websocketUrl: null };
