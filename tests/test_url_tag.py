"""`{% url %}` gives Django's answers and works each one out once per process."""

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import NoReverseMatch, path, reverse, set_script_prefix

from pharmacy import url_tag


def render(source: str, **context) -> str:
    return Template(source).render(Context(context))


@pytest.fixture
def counted(monkeypatch):
    calls = []
    real = url_tag.reverse
    monkeypatch.setattr(url_tag, "reverse", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    url_tag._reverse.cache_clear()
    yield calls
    url_tag._reverse.cache_clear()


def test_the_tag_gives_the_same_addresses_as_django(counted):
    assert render("{% url 'orders:cart' %}") == reverse("orders:cart")
    assert render("{% url 'orders:pay' n %}", n="ABCDEFGHJK") == reverse(
        "orders:pay", args=["ABCDEFGHJK"]
    )
    assert render("{% url 'orders:pay' number=n %}", n="ABCDEFGHJK") == reverse(
        "orders:pay", kwargs={"number": "ABCDEFGHJK"}
    )
    assert render("{% url 'orders:cart' as cart %}[{{ cart }}]") == f"[{reverse('orders:cart')}]"
    assert render("{% url 'no:such' as nothing %}[{{ nothing }}]") == "[]"
    with pytest.raises(NoReverseMatch):
        render("{% url 'no:such' %}")


def test_each_address_is_worked_out_once(counted):
    for _ in range(3):
        render("{% url 'orders:cart' %}{% url 'orders:pay' 'ABCDEFGHJK' %}")
    assert len(counted) == 2
    render("{% url 'orders:pay' 'ABCDEFGHJL' %}")
    assert len(counted) == 3  # another order, another address


def test_an_argument_that_is_not_a_plain_value_is_reversed_every_time(counted, baclofen):
    """A model instance stands for str(instance), which may change: never remembered."""
    source = "{% url 'catalog:drug_detail' drug %}"
    assert render(source, drug=baclofen) == reverse("catalog:drug_detail", args=[str(baclofen)])
    baclofen.name = "Renamed"
    assert render(source, drug=baclofen) == reverse("catalog:drug_detail", args=[str(baclofen)])
    assert counted == []


def test_another_script_prefix_gets_its_own_address(counted):
    assert render("{% url 'orders:cart' %}") == "/cart/"
    set_script_prefix("/shop/")
    try:
        assert render("{% url 'orders:cart' %}") == "/shop/cart/"
    finally:
        set_script_prefix("/")


def test_a_request_for_the_admin_keeps_its_current_app(counted, rf: RequestFactory):
    request = rf.get("/")
    request.current_app = "admin"
    assert Template("{% url 'admin:index' %}").render(Context({"request": request})) == reverse(
        "admin:index"
    )


def test_another_urlconf_forgets_the_addresses(counted, settings):
    assert render("{% url 'account_login' %}") == reverse("account_login")
    settings.ROOT_URLCONF = __name__  # this module's urlpatterns
    assert render("{% url 'account_login' %}") == "/another-sign-in/"


urlpatterns = [path("another-sign-in/", lambda request: None, name="account_login")]
