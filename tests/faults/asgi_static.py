"""config.asgi:application plus the static files from the finders, as runserver serves them (DEBUG is off in the
test settings, so WhiteNoise alone would not): for the browser test's web process."""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from config.asgi import application as product

application = ASGIStaticFilesHandler(product)
