"""The chat widget's static files (``widget.js``, ``evidence.js``, ``widget.css``) and the demo page,
served by ``api/routes/widget.py``. Plain JS and CSS: no build step."""
