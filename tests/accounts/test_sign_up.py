"""Which addresses sign-up takes, and that it does not tell who has an account."""

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, make_user_with_verified_email


def sign_up(client, email):
    return client.post(
        "/accounts/signup/",
        {
            "first_name": "Dan",
            "last_name": "Brown",
            "email": email,
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )


def accounts():
    return get_user_model().objects.count()


@pytest.mark.parametrize(
    ("email", "reason"),
    [
        ("dan@clınic.example.com", "“ı” (latin small letter dotless i), which looks like “i”"),
        ("dan@xn--clnic-o4a.example.com", "which looks like “i”"),
        ("dan@аpple.example.com", "mixes Cyrillic and Latin letters"),
        ("dan@xn--zz.example.com", "not valid IDNA"),
    ],
)
def test_sign_up_refuses_a_lookalike_or_invalid_domain(client, db, email, reason):
    response = sign_up(client, email)
    assert response.status_code == 200
    assert reason in response.content.decode()
    assert accounts() == 0
    assert mail.outbox == []


def test_sign_up_refuses_reserved_domains_unless_test_domains_are_allowed(client, db, settings):
    response = sign_up(client, "dan@clinic.test")
    assert response.status_code == 200
    assert "special-use or reserved name" in response.content.decode()
    settings.ALLOW_TEST_EMAIL_DOMAINS = True
    assert sign_up(client, "dan@clinic.test").status_code == 302


def test_sign_up_stores_the_domain_in_idna_and_lowercase(client, db):
    assert sign_up(client, "Dan.Brown@Bücher.Example.com").status_code == 302
    user = get_user_model().objects.get()
    assert user.email == "dan.brown@xn--bcher-kva.example.com"
    assert EmailAddress.objects.get(user=user).email == user.email
    assert mail.outbox[0].to == [user.email]


def test_adding_a_lookalike_address_is_refused(db):
    user = make_user_with_verified_email()
    client = Client()
    client.force_login(user)
    response = client.post(
        reverse("account_email"), {"email": "dan@clınic.example.com", "action_add": ""}
    )
    assert response.status_code == 200
    assert "could be mistaken for another one" in response.content.decode()
    assert EmailAddress.objects.filter(user=user).count() == 1
    assert mail.outbox == []


# --- sign-up costs the same whether the address has an account or not ------------------


class CountingHasher(MD5PasswordHasher):
    """A real hasher that also counts how many passwords it hashed."""

    hashed: list[str] = []

    def encode(self, password, salt):
        CountingHasher.hashed.append(password)
        return super().encode(password, salt)


@pytest.fixture
def counted_hashing(settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.hashed = []
    return CountingHasher.hashed


def test_sign_up_does_the_same_work_for_a_known_and_a_new_address(db, counted_hashing):
    existing = make_user_with_verified_email(email="known@example.com")
    counted_hashing.clear()
    mail.outbox.clear()

    known = sign_up(Client(), "known@example.com")
    known_hashes, known_mail = len(counted_hashing), len(mail.outbox)
    new = sign_up(Client(), "new@example.com")

    assert (known_hashes, known_mail) == (1, 1)  # the same password hashing as a new account
    assert (len(counted_hashing) - known_hashes, len(mail.outbox) - known_mail) == (1, 1)
    assert known.status_code == new.status_code == 302
    assert known["Location"] == new["Location"] == reverse("account_email_verification_sent")
    assert [m.to for m in mail.outbox] == [["known@example.com"], ["new@example.com"]]
    existing.refresh_from_db()
    assert existing.check_password(PASSWORD)  # the known account is left as it was


def test_sign_in_takes_the_address_as_typed_with_its_unicode_domain(db):
    user = make_user_with_verified_email(email="ana@bücher.example.com")
    assert user.email == "ana@xn--bcher-kva.example.com"
    client = Client()
    response = client.post(
        reverse("account_login"), {"login": "Ana@Bücher.example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
