"""Component styles of a line-API widget, looked up once per CSS or theme change."""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget


class StyleCache:
    """``widget``'s own style and its ``PREFIX + name`` component styles, cached.

    Call :meth:`clear` from the widget's ``notify_style_update``.
    """

    def __init__(self, widget: Widget, prefix: str) -> None:
        self.widget = widget
        self.prefix = prefix
        self._styles: dict[str, Style] = {}

    def clear(self) -> None:
        """Forget every style (CSS or the theme changed)."""
        self._styles.clear()

    def component(self, name: str) -> Style:
        """The rich style of the ``PREFIX + name`` component class."""
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self.widget.get_component_rich_style(self.prefix + name)
        return style

    def base(self) -> Style:
        """The widget's own style (``rich_style`` walks the ancestors on every call)."""
        style = self._styles.get("")
        if style is None:
            style = self._styles[""] = self.widget.rich_style
        return style
