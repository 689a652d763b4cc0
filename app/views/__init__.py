"""The app's widgets: pages, dialogs and the delegates that paint items.

Views show what the item models hold and turn user gestures into calls on
the ``Session``; they never query or change the catalog themselves.
"""
