"""`{% url %}` that works out each address once per process.

Django's tag reverses on every render, and with the admin's and allauth's patterns
one reverse costs tens of microseconds: a signed-in page with a dozen links spent as
long on them as on its queries. An address depends only on the view name, its
arguments, the URLconf, the script prefix and the current app, so the answer is
kept under exactly those (arguments that are strings or integers; anything else,
a model instance whose str() may change, is reversed every time, as before). A
change of ROOT_URLCONF (tests) forgets every answer.

Loaded as a template builtin (settings.TEMPLATES), after Django's own, so every
template's `{% url %}` is this one.
"""

import functools

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import defaulttags
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()
_PLAIN = (str, int)


@functools.lru_cache(maxsize=4096)
def _reverse(view_name, args, kwargs, current_app, urlconf, prefix) -> str:
    return reverse(
        view_name, urlconf=urlconf, args=args, kwargs=dict(kwargs), current_app=current_app
    )


@receiver(setting_changed)
def _urlconf_changed(*, setting, **kwargs):
    if setting == "ROOT_URLCONF":
        _reverse.cache_clear()


class RememberedURLNode(defaulttags.URLNode):
    def render(self, context):
        args = tuple(arg.resolve(context) for arg in self.args)
        kwargs = tuple(sorted((k, v.resolve(context)) for k, v in self.kwargs.items()))
        view_name = self.view_name.resolve(context)
        values = args + tuple(value for _, value in kwargs)
        if not isinstance(view_name, str) or not all(isinstance(v, _PLAIN) for v in values):
            return super().render(context)
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = _reverse(view_name, args, kwargs, current_app, get_urlconf(), get_script_prefix())
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token):
    node = defaulttags.url(parser, token)
    return RememberedURLNode(node.view_name, node.args, node.kwargs, node.asvar)
