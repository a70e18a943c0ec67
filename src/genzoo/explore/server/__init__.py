"""`genzoo explore`: the lecture's ideas as a live page in the browser, served by Starlette + uvicorn.

command.py registers the CLI command (torch-free); app.py builds the app (`create_app`);
one small module per tool (latent_tools, drawing, arithmetic_tool, gan_game, translate_tool,
points_tool); static/ holds the page (index.html, app.js, style.css), shipped as package data.
"""
