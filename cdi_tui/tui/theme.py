"""The app's own themes (dark and light), registered at start; the choice is remembered."""

from __future__ import annotations

from textual.theme import Theme

DARK = "cdi-dark"
LIGHT = "cdi-light"

THEMES = (
    Theme(
        name=DARK,
        primary="#4C9FE6",
        secondary="#9D7CD8",
        accent="#F0A35E",
        warning="#E5C07B",
        error="#E06C75",
        success="#8CC265",
        foreground="#D8DEE9",
        background="#15181E",
        surface="#1D2129",
        panel="#272C36",
        dark=True,
        variables={
            "footer-key-foreground": "#F0A35E",
            "block-cursor-text-style": "none",
            "input-selection-background": "#4C9FE6 35%",
        },
    ),
    Theme(
        name=LIGHT,
        primary="#1F6FBF",
        secondary="#7A4FC9",
        accent="#B85C00",
        warning="#9A6700",
        error="#C4314B",
        success="#2E7D32",
        foreground="#1F2328",
        background="#F6F8FA",
        surface="#FFFFFF",
        panel="#E7ECF2",
        dark=False,
        variables={
            "footer-key-foreground": "#B85C00",
            "block-cursor-text-style": "none",
        },
    ),
)
