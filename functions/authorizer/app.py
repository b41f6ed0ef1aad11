"""$connect's REQUEST authorizer: the caller's Cognito JWT, passed as ``?token=``.

No token or an invalid one is 401 (``Unauthorized``, as API Gateway expects it raised);
a token of another app client is 403 (a Deny policy); a valid one is allowed, with the
user's name in the context, which ``$connect`` takes as the display name.
"""

from typing import Any

from tokens import InvalidTokenError, TokenVerifier, WrongClientError

from chatroom.telemetry import logger

verifier = TokenVerifier.from_environment()


def policy(effect: str, method_arn: str, principal: str, context: dict[str, str]) -> dict:
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}
            ],
        },
        "context": context,
    }


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict:
    token = (event.get("queryStringParameters") or {}).get("token")
    if not token:
        raise Exception("Unauthorized")  # the exact message API Gateway answers 401 for
    try:
        identity = verifier.verify(token)
    except InvalidTokenError as exc:
        logger.info("refused a token", extra={"why": str(exc)})
        raise Exception("Unauthorized") from None
    except WrongClientError as exc:
        logger.info("denied a token", extra={"why": str(exc)})
        return policy("Deny", event["methodArn"], "unknown", {})
    return policy("Allow", event["methodArn"], identity.subject, {"name": identity.name})
