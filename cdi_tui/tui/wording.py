"""The core's messages in the app's words: where a message names a command, the app names its own action.

The core (workspace, engine, warehouse) words its messages for the command line, which
every front end shares. The app has each of those actions itself, so it points there instead
of sending the user to a shell; everything else in the message is kept as it is.
"""

from __future__ import annotations

import re

# (pattern, the app's words); the patterns match the core's wording, NAME and INTEGRATION included
_APP_ACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), words)
    for pattern, words in (
        (
            r"it must pass 'cdi-tui test [^']+' and be activated \('cdi-tui activate [^']+'\)",
            "it must pass a connection test (t, Test, on the integration) and be activated",
        ),
        (r"run 'cdi-tui test [^']+' (first|again)", r"test it \1 (t, Test, on the integration)"),
        (r"run 'cdi-tui braze set [^']*' first", "set it up first on the Braze tab (F2)"),
        (r"\(see 'cdi-tui setup-sql'\)", "(Setup SQL shows the SQL to run)"),
        (
            r"accept it in the app's connection test or with 'cdi-tui test INTEGRATION --accept-host-key [^']+'",
            "accept it when the connection test asks",
        ),
        (
            r"accept it with 'cdi-tui test INTEGRATION --accept-host-key [^']+' \(or in the app's connection test\)",
            "accept it when the connection test asks",
        ),
        (r"\('cdi-tui credentials public-key NAME' prints the line\)", "(F2, then p: SSH key, shows the line)"),
        (r"Save the password with 'cdi-tui credentials add' or in the app\.", "Change the password on F2 (w)."),
        (r"\(add it with 'cdi-tui credentials add'\)", "(add one on F2)"),
        (r"\(credentials add --replace with --ssh-key PATH or --ssh-generate-key\)", "(make the credential again on F2)"),
        (r"Save it with 'cdi-tui credentials add \.\.\. --replace'\.", "Make the credential again on F2."),
    )
)


def app_words(message: str) -> str:
    """``message`` with each command it names replaced by the app's own action."""
    for pattern, words in _APP_ACTIONS:
        message = pattern.sub(words, message)
    return message


def mentions_setup_sql(message: str) -> bool:
    """The message advises the Setup SQL (the app then offers it beside the message)."""
    return "Setup SQL" in message or "setup-sql" in message
