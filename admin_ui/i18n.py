"""The admin UI's two languages and the admin's time zone.

English strings are the message ids (as with gettext): a string missing from the French catalogue
shows in English rather than as a key. The domain's rule sentences stay as the domain wrote them
(English); the UI translates what surrounds them ("Refused", the rule id is shown as is).

The language is the admin's choice (a long-lived cookie set from the language menu), else the
best match of the browser's Accept-Language. The time zone is the browser's IANA zone, sent by a
few lines of JavaScript as a cookie, unless the admin picks one in Preferences (same cookie).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import g, request

LANGUAGES = {"en": "English", "fr": "Français"}
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "admin_lang"
TZ_COOKIE = "admin_tz"
UTC = ZoneInfo("UTC")

FR: dict[str, str] = {
    # layout and navigation
    "Admin console": "Console d'administration",
    "Hub": "Accueil",
    "Users": "Utilisateurs",
    "Groups": "Groupes",
    "API users": "Utilisateurs d'API",
    "Resources and permissions": "Ressources et permissions",
    "Audit log": "Journal d'audit",
    "Preferences": "Préférences",
    "Sign out": "Se déconnecter",
    "Language": "Langue",
    "Time zone": "Fuseau horaire",
    "Save": "Enregistrer",
    "Cancel": "Annuler",
    "Back": "Retour",
    "Refused": "Refusé",
    "Done": "Fait",
    "Browser default": "Celui du navigateur",
    "Dates are shown in %(zone)s.": "Les dates sont affichées en %(zone)s.",
    "Preferences saved.": "Préférences enregistrées.",
    # sign-in
    "Sign in": "Se connecter",
    "Sign in to manage your account's users.": "Connectez-vous pour gérer les utilisateurs de votre compte.",
    "Email": "E-mail",
    "Password": "Mot de passe",
    "Account (only if you administer several)": "Compte (seulement si vous en administrez plusieurs)",
    "or": "ou",
    "Sign in with single sign-on": "Se connecter avec l'authentification unique",
    "Email or password is wrong, or this user is not an active Admin.": "E-mail ou mot de passe incorrect, ou cet utilisateur n'est pas un Admin actif.",
    "Revoke…": "Révoquer…",
    "Revoke %(name)s": "Révoquer %(name)s",
    "Holder": "Titulaire",
    "“%(name)s” was revoked.": "« %(name)s » a été révoqué.",
    "The identity provider that uses this token will be refused from now on: provisioning stops until it is given a new token.": "Le fournisseur d’identité qui utilise ce jeton sera refusé dès maintenant : le provisionnement s’arrête jusqu’à ce qu’il reçoive un nouveau jeton.",
    "Scripts and integrations that use it will be refused from now on.": "Les scripts et intégrations qui l’utilisent seront refusés dès maintenant.",
    "Deactivate…": "Désactiver…",
    "Deactivate %(name)s": "Désactiver %(name)s",
    "%(name)s (%(email)s) will no longer be able to sign in or use the application; nothing is deleted, and activating them again restores their access.": "%(name)s (%(email)s) ne pourra plus se connecter ni utiliser l’application ; rien n’est supprimé, et le réactiver rétablit son accès.",
    "Automations and integrations they own that will be disabled: %(n)s": "Automatisations et intégrations qui seront désactivées : %(n)s",
    "Resources that will become inaccessible (no other active owner): %(n)s": "Ressources qui deviendront inaccessibles (aucun autre propriétaire actif) : %(n)s",
    "Transfer their resources to another user first": "Transférer d’abord ses ressources à un autre utilisateur",
    "Review the bulk change": "Vérifier la modification groupée",
    "%(n)s will change": "%(n)s seront modifiés",
    "%(n)s will be skipped": "%(n)s seront ignorés",
    "Nothing has changed yet. Apply to make these changes, or cancel.": "Rien n’a encore changé. Appliquez pour faire ces modifications, ou annulez.",
    "Will change": "Sera modifié",
    "Apply to %(n)s users": "Appliquer à %(n)s utilisateurs",
    "Remove…": "Retirer…",
    "Remove %(member)s from %(group)s": "Retirer %(member)s de %(group)s",
    "%(member)s will no longer be a member of %(group)s and loses what the group gives. If an identity provider manages this group, its next push may add them back.": "%(member)s ne sera plus membre de %(group)s et perd ce que le groupe donne. Si un fournisseur d’identité gère ce groupe, son prochain envoi peut l’y remettre.",
    "%(member)s was removed from %(group)s.": "%(member)s a été retiré de %(group)s.",
    "Account settings": "Paramètres du compte",
    "Settings": "Paramètres",
    "Settings saved.": "Paramètres enregistrés.",
    "Email domains of the account (one per line)": "Domaines de messagerie du compte (un par ligne)",
    "Guests allowed only from these domains (one per line; empty: any domain not denied)": "Invités acceptés seulement de ces domaines (un par ligne ; vide : tout domaine non refusé)",
    "Guests refused from these domains (one per line)": "Invités refusés de ces domaines (un par ligne)",
    "Type of users an identity provider creates without one": "Type des utilisateurs qu’un fournisseur d’identité crée sans type",
    "Plan": "Offre",
    "%(used)s of %(limit)s": "%(used)s sur %(limit)s",
    "The plan and its limits are set by the platform operator.": "L’offre et ses limites sont fixées par l’opérateur de la plateforme.",
    "Too many sign-in attempts; wait a few minutes and try again.": "Trop de tentatives de connexion ; attendez quelques minutes avant de réessayer.",
    "This account is suspended; sign-in is refused until the platform operator resumes it.": "Ce compte est suspendu ; la connexion est refusée jusqu’à ce que l’opérateur de la plateforme le réactive.",
    "This email administers several accounts: enter the account name.": "Cet e-mail administre plusieurs comptes : indiquez le nom du compte.",
    "Enter your email and password.": "Saisissez votre e-mail et votre mot de passe.",
    "Single sign-on failed: %(reason)s": "L'authentification unique a échoué : %(reason)s",
    "The identity provider gave no verified email.": "Le fournisseur d'identité n'a pas donné d'e-mail vérifié.",
    "%(email)s is not an active Admin of an account here.": "%(email)s n'est pas un Admin actif d'un compte ici.",
    "You are signed out.": "Vous êtes déconnecté.",
    "Your session ended; sign in again.": "Votre session a pris fin ; reconnectez-vous.",
    # errors
    "The form expired or was not sent by this page; reload the page and try again.": "Le formulaire a expiré ou ne vient pas de cette page ; rechargez la page et réessayez.",
    "Not found in this account.": "Introuvable dans ce compte.",
    "The form holds a character that cannot be stored (U+0000); remove it and try again.": "Le formulaire contient un caractère qui ne peut pas être enregistré (U+0000) ; retirez-le et réessayez.",
    "Something went wrong on our side; nothing was changed.": "Une erreur s'est produite de notre côté ; rien n'a été modifié.",
    "That request is not valid.": "Cette requête n'est pas valide.",
    "The database is unavailable right now; nothing was changed. Try again in a moment.": "La base de données est indisponible pour le moment ; rien n'a été modifié. Réessayez dans un instant.",
    "Too many requests of this account are in progress; try again in a moment.": "Trop de requêtes de ce compte sont en cours ; réessayez dans un instant.",
    "The change conflicts with another one; try again.": "La modification est en conflit avec une autre ; réessayez.",
    # hub
    "Operators": "Opérateurs",
    "Operator groups": "Groupes d'opérateurs",
    "On duty": "De garde",
    "Seats": "Sièges",
    "Resources": "Ressources",
    "View all operators": "Voir tous les opérateurs",
    "Add operator": "Ajouter un opérateur",
    "View all groups": "Voir tous les groupes",
    "Add group": "Ajouter un groupe",
    "View all API users": "Voir tous les utilisateurs d'API",
    "View permissions": "Voir les permissions",
    "users": "utilisateurs",
    "groups": "groupes",
    "without members": "sans membre",
    "inactive for over 30 days": "inactifs depuis plus de 30 jours",
    "holding a credential": "détenant un identifiant",
    "on duty now": "de garde maintenant",
    "operators used": "opérateurs utilisés",
    "paying seats used": "sièges payants utilisés",
    "production": "en production",
    "Figures as of %(when)s.": "Chiffres au %(when)s.",
    "Help": "Aide",
    "Help topics": "Rubriques d'aide",
    "User types and seats": "Types d'utilisateurs et sièges",
    "Deactivating and deleting users": "Désactiver et supprimer des utilisateurs",
    "Connecting your identity provider (SCIM)": "Connecter votre fournisseur d'identité (SCIM)",
    "API tokens and OAuth clients": "Jetons d'API et clients OAuth",
    "The hub summary is not available yet.": "Le résumé n'est pas encore disponible.",
    # users
    "Search by name or email": "Rechercher par nom ou e-mail",
    "All types": "Tous les types",
    "All statuses": "Tous les statuts",
    "Search": "Rechercher",
    "Name": "Nom",
    "Type": "Type",
    "Status": "Statut",
    "Last activity": "Dernière activité",
    "Sort": "Tri",
    "Name A–Z": "Nom A–Z",
    "Most recent activity first": "Activité la plus récente d'abord",
    "Least recent activity first": "Activité la plus ancienne d'abord",
    "Per page": "Par page",
    "no activity since %(date)s": "aucune activité depuis le %(date)s",
    "No user matches.": "Aucun utilisateur ne correspond.",
    "Next page": "Page suivante",
    "First page": "Première page",
    "%(count)s users in this account": "%(count)s utilisateurs dans ce compte",
    "Actions": "Actions",
    "Deactivate": "Désactiver",
    "Activate": "Activer",
    "Delete…": "Supprimer…",
    "Change email…": "Changer l'e-mail…",
    "Edit profile…": "Modifier le profil…",
    "Change type": "Changer le type",
    "Audit trail": "Historique",
    "active": "actif",
    "inactive": "inactif",
    "pending": "en attente",
    "Admin": "Admin",
    "Member": "Membre",
    "Viewer": "Lecteur",
    "Guest": "Invité",
    "Select all (first 200 shown)": "Tout sélectionner (les 200 premiers affichés)",
    "%(n)s selected": "%(n)s sélectionné(s)",
    "at most %(n)s users": "%(n)s utilisateurs au plus",
    "Set type": "Définir le type",
    "Set status": "Définir le statut",
    "Apply to selected": "Appliquer à la sélection",
    "Select at least one user.": "Sélectionnez au moins un utilisateur.",
    "Choose a type or a status to apply.": "Choisissez un type ou un statut à appliquer.",
    "Choose a type or a status, not both.": "Choisissez un type ou un statut, pas les deux.",
    "Bulk change result": "Résultat de la modification groupée",
    "%(n)s changed": "%(n)s modifié(s)",
    "%(n)s skipped": "%(n)s ignoré(s)",
    "Skipped": "Ignoré",
    "Changed": "Modifié",
    "Why": "Pourquoi",
    "Back to users": "Retour aux utilisateurs",
    "%(name)s was deactivated.": "%(name)s a été désactivé.",
    "%(name)s was activated.": "%(name)s a été activé.",
    "%(name)s is now %(type)s.": "%(name)s est maintenant %(type)s.",
    "%(name)s was deleted.": "%(name)s a été supprimé.",
    "Delete %(name)s": "Supprimer %(name)s",
    "Deleting is permanent: personal data is erased. What this user created stays, attributed to the name below.": "La suppression est définitive : les données personnelles sont effacées. Ce que cet utilisateur a créé reste, attribué au nom ci-dessous.",
    "Name to show instead": "Nom à afficher à la place",
    "Deleted user": "Utilisateur supprimé",
    "I understand that this cannot be undone": "Je comprends que c'est irréversible",
    "Delete for good": "Supprimer définitivement",
    "Tick the box to confirm the deletion.": "Cochez la case pour confirmer la suppression.",
    "Change the email of %(name)s": "Changer l'e-mail de %(name)s",
    "A confirmation link goes to the new address; the email changes only when it is followed, within 3 days.": "Un lien de confirmation est envoyé à la nouvelle adresse ; l'e-mail ne change que s'il est suivi, sous 3 jours.",
    "Current email": "E-mail actuel",
    "New email": "Nouvel e-mail",
    "Send the confirmation link": "Envoyer le lien de confirmation",
    "A confirmation link was sent to %(email)s; the email changes once it is followed.": "Un lien de confirmation a été envoyé à %(email)s ; l'e-mail changera une fois le lien suivi.",
    "Enter a valid email address.": "Saisissez une adresse e-mail valide.",
    "No confirmation link was mailed to %(email)s: mail is not configured on this server.": "Aucun lien de confirmation n'a été envoyé à %(email)s : l'envoi d'e-mails n'est pas configuré sur ce serveur.",
    "Mail is not configured on this server (SCIM_SMTP_URL is unset): the link is not emailed. For development only, the server writes it to its log.": "L'envoi d'e-mails n'est pas configuré sur ce serveur (SCIM_SMTP_URL n'est pas défini) : le lien n'est pas envoyé par e-mail. Pour le développement uniquement, le serveur l'écrit dans son journal.",
    "Edit the profile of %(name)s": "Modifier le profil de %(name)s",
    "Given name": "Prénom",
    "Family name": "Nom de famille",
    "Display name": "Nom affiché",
    "Title": "Fonction",
    "Phone": "Téléphone",
    "Locale": "Langue et région",
    "Email notifications": "Notifications par e-mail",
    "The profile was saved.": "Le profil a été enregistré.",
    "%(field)s is too long (at most %(n)s characters).": "%(field)s est trop long (%(n)s caractères au plus).",
    "Add an operator": "Ajouter un opérateur",
    "An invitation goes to this address; the user is pending until they accept it.": "Une invitation est envoyée à cette adresse ; l'utilisateur reste en attente jusqu'à ce qu'il l'accepte.",
    "Send the invitation": "Envoyer l'invitation",
    "%(email)s was invited.": "%(email)s a été invité.",
    "%(email)s was invited, but no invitation was mailed: mail is not configured on this server.": "%(email)s a été invité, mais aucune invitation n'a été envoyée : l'envoi d'e-mails n'est pas configuré sur ce serveur.",
    # groups
    "Members": "Membres",
    "members": "membres",
    "No member": "Aucun membre",
    "Create": "Créer",
    "Rename": "Renommer",
    "New group name": "Nom du nouveau groupe",
    "Group name": "Nom du groupe",
    "Enter a group name.": "Saisissez un nom de groupe.",
    "A group named %(name)s already exists.": "Un groupe nommé %(name)s existe déjà.",
    "Group %(name)s was created.": "Le groupe %(name)s a été créé.",
    "The group was renamed.": "Le groupe a été renommé.",
    "Add member (email)": "Ajouter un membre (e-mail)",
    "Add": "Ajouter",
    "Remove": "Retirer",
    "No user with that email.": "Aucun utilisateur avec cet e-mail.",
    "Member added.": "Membre ajouté.",
    "Empty groups are listed first.": "Les groupes vides sont listés en premier.",
    "No group yet.": "Aucun groupe pour l'instant.",
    # API users
    "Credentials": "Identifiants",
    "Kind": "Sorte",
    "API token": "Jeton d'API",
    "SCIM token": "Jeton SCIM",
    "OAuth client": "Client OAuth",
    "Created": "Créé",
    "Last used": "Dernière utilisation",
    "never": "jamais",
    "revoked": "révoqué",
    "Revoke": "Révoquer",
    "Issue a token": "Émettre un jeton",
    "Holder (email)": "Titulaire (e-mail)",
    "Label": "Libellé",
    "Issue": "Émettre",
    "Copy this token now: it is shown only once.": "Copiez ce jeton maintenant : il n'est affiché qu'une fois.",
    "The token was revoked.": "Le jeton a été révoqué.",
    "inactive > 30 days": "inactif > 30 jours",
    "No credential yet.": "Aucun identifiant pour l'instant.",
    # resources
    "Resource": "Ressource",
    "Owners": "Propriétaires",
    "Permissions": "Permissions",
    "inaccessible": "inaccessible",
    "disabled": "désactivé",
    "Transfer ownership": "Transférer la propriété",
    "From (email)": "De (e-mail)",
    "To (email)": "À (e-mail)",
    "Transfer": "Transférer",
    "Claim selected": "Revendiquer la sélection",
    "%(n)s resources moved.": "%(n)s ressources transférées.",
    "%(n)s resources claimed.": "%(n)s ressources revendiquées.",
    "Select at least one resource.": "Sélectionnez au moins une ressource.",
    "No resource yet.": "Aucune ressource pour l'instant.",
    "via group %(name)s": "via le groupe %(name)s",
    # audit
    "When": "Quand",
    "Door": "Porte",
    "Who": "Qui",
    "What": "Quoi",
    "Target": "Cible",
    "Change": "Changement",
    "All doors": "Toutes les portes",
    "User (email)": "Utilisateur (e-mail)",
    "Filter": "Filtrer",
    "Older entries": "Entrées plus anciennes",
    "No entry.": "Aucune entrée.",
    "admin UI": "console d'administration",
    # links from emails
    "Confirm your new email address": "Confirmez votre nouvelle adresse e-mail",
    "Accept the invitation": "Accepter l'invitation",
    "Confirm": "Confirmer",
    "Group": "Groupe",
    "User": "Utilisateur",
    "Your email address is confirmed.": "Votre adresse e-mail est confirmée.",
    "Welcome: the invitation is accepted.": "Bienvenue : l'invitation est acceptée.",
    # the Provisioning log
    "Provisioning log": "Journal de provisionnement",
    "Connections": "Connexions",
    "Each SCIM token is a connection of an identity provider. Its profile is detected from its first requests; you may set another. Every profile accepts every quirk.": "Chaque jeton SCIM est une connexion d'un fournisseur d'identité. Son profil est détecté à partir de ses premières requêtes ; vous pouvez en choisir un autre. Chaque profil accepte toutes les particularités.",
    "Connection": "Connexion",
    "Profile": "Profil",
    "Last request": "Dernière requête",
    "Errors, last 24 hours": "Erreurs, dernières 24 heures",
    "set by an Admin": "choisi par un Admin",
    "detected": "détecté",
    "default": "par défaut",
    "Detected": "Détecté",
    "No SCIM token yet.": "Aucun jeton SCIM pour l'instant.",
    "Any status": "Tout statut",
    "Method": "Méthode",
    "Any method": "Toute méthode",
    "Any connection": "Toute connexion",
    "User or group id": "Id d'utilisateur ou de groupe",
    "From": "Du",
    "To": "Au",
    "Request": "Requête",
    "Quirks applied": "Particularités appliquées",
    "Duration": "Durée",
    "No request.": "Aucune requête.",
    "Older requests": "Requêtes plus anciennes",
    "Client": "Client",
    "rule": "règle",
    "Users and groups touched": "Utilisateurs et groupes concernés",
    "None: the request was sent as RFC 7644 describes it.": "Aucune : la requête a été envoyée comme la RFC 7644 la décrit.",
    "Request body": "Corps de la requête",
    "Response body": "Corps de la réponse",
    "truncated": "tronqué",
    "Passwords, tokens and secrets are never stored.": "Les mots de passe, jetons et secrets ne sont jamais conservés.",
    "(empty)": "(vide)",
    "Dates are written YYYY-MM-DD.": "Les dates s'écrivent AAAA-MM-JJ.",
    "The profile of %(name)s is now %(profile)s.": "Le profil de %(name)s est maintenant %(profile)s.",
    "Provisioning requests": "Requêtes de provisionnement",
    "The SCIM requests that touched this user": "Les requêtes SCIM qui ont concerné cet utilisateur",
}

CATALOGUES = {"en": {}, "fr": FR}


def pick_language() -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LANGUAGE)


def gettext(message: str, **params: Any) -> str:
    """Translate ``message`` into the request's language, then fill ``%(name)s`` parameters."""
    lang = g.get("lang") or DEFAULT_LANGUAGE
    text = CATALOGUES.get(lang, {}).get(message, message)
    return text % params if params else text


def pick_zone() -> ZoneInfo:
    # The browser script URL-encodes the name ("Europe%2FParis").
    name = unquote(request.cookies.get(TZ_COOKIE) or "")
    return zone_named(name) or UTC


def zone_named(name: str) -> ZoneInfo | None:
    # Only IANA names are accepted: a cookie is user input, and ZoneInfo would read files.
    if not name or len(name) > 64 or name not in _zones():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


_ZONES: list[frozenset[str]] = []


def _zones() -> frozenset[str]:
    if not _ZONES:
        _ZONES.append(frozenset(available_timezones()))
    return _ZONES[0]


def zone_choices() -> list[str]:
    return sorted(_zones())


def format_datetime(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant in the admin's zone; a naive value is taken as UTC (SQLite drops zones)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    zone = g.get("zone") or UTC
    return value.astimezone(zone).strftime(fmt)


def format_date(value: dt.datetime | None) -> str:
    return format_datetime(value, "%Y-%m-%d")
