"""The app's features, one controller each, holding a reference to the app.

``BxtuiApp`` keeps what Textual must find on it (bindings, ``check_action``, ``action_*`` and
``on_*`` methods, a line each that hands over to a controller); the controllers keep each
feature's state and its work.
"""
