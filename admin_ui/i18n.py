"""The admin UI's two languages and the admin's time zone.

English strings are the message ids (as with gettext): a string missing from the French catalogue
shows in English rather than as a key. The domain's refusals are English templates with
parameters (``scim_server.domain.errors``): the UI looks the template up in ``DOMAIN_FR`` and fills
it with the refusal's values, and shows the rule id after the sentence for support; SCIM and the
admin API keep the English sentence.

French typography is applied to the whole French catalogue once (``french_typography``): a
narrow no-break space before ``: ; ? !`` and inside « », so that translators write plain spaces.
Counts go through ``ngettext`` (French: 0 and 1 are singular) and numbers through
``format_number`` (20 007 / 20,007); dates follow the language (``format_datetime``).

The language is the admin's choice (a long-lived cookie set from the language menu), else the
best match of the browser's Accept-Language. The time zone is the browser's IANA zone, sent by a
few lines of JavaScript as a cookie, unless the admin picks one in Preferences (same cookie).
"""

from __future__ import annotations

import datetime as dt
import re
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
    "%(member)s will no longer be a member of %(group)s and loses what the group gives.": "%(member)s ne sera plus membre de %(group)s et perd ce que le groupe donne.",
    "An identity provider manages this group: its next push may add them back.": "Un fournisseur d’identité gère ce groupe : son prochain envoi peut l’y remettre.",
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
    # groups: search, paging, delete, add by search, identity provider mark
    "Search groups by name": "Rechercher des groupes par nom",
    "Show all": "Tout afficher",
    "%(first)s–%(last)s of %(total)s": "%(first)s–%(last)s sur %(total)s",
    "Pages": "Pages",
    "Previous page": "Page précédente",
    "Delete": "Supprimer",
    "No group matches this search.": "Aucun groupe ne correspond à cette recherche.",
    "Managed by an identity provider": "Géré par un fournisseur d’identité",
    "Changes here will be overwritten by the next push.": "Les modifications faites ici seront écrasées au prochain envoi.",
    "An identity provider manages this group: changes here will be overwritten by the next push.": "Un fournisseur d’identité gère ce groupe : les modifications faites ici seront écrasées au prochain envoi.",
    "Delete this group…": "Supprimer ce groupe…",
    "Find a user to add (name or email)": "Trouver un utilisateur à ajouter (nom ou e-mail)",
    "Find": "Trouver",
    "Users matching “%(text)s”": "Utilisateurs correspondant à « %(text)s »",
    "Already a member": "Déjà membre",
    "Add %(name)s": "Ajouter %(name)s",
    "No user matches this search.": "Aucun utilisateur ne correspond à cette recherche.",
    "Search members": "Rechercher des membres",
    "No such user.": "Utilisateur introuvable.",
    "%(member)s was added to %(group)s.": "%(member)s a été ajouté à %(group)s.",
    "%(member)s is already a member of %(group)s.": "%(member)s est déjà membre de %(group)s.",
    "Delete %(group)s": "Supprimer %(group)s",
    "The group %(group)s will be deleted. Members: %(n)s; they stay users, but lose the permissions the group gives them. This cannot be undone.": "Le groupe %(group)s sera supprimé. Membres : %(n)s ; ils restent utilisateurs, mais perdent les permissions que le groupe leur donne. Cette action est irréversible.",
    "An identity provider manages this group: its next push may create it again.": "Un fournisseur d’identité gère ce groupe : son prochain envoi peut le recréer.",
    "Delete the group": "Supprimer le groupe",
    "Group %(name)s was deleted.": "Le groupe %(name)s a été supprimé.",
    # on duty
    "On duty now": "De garde maintenant",
    "As of %(when)s.": "À  %(when)s.".replace(" ", ""),
    "Their local time": "Leur heure locale",
    "Nobody is on duty now.": "Personne n’est de garde maintenant.",
    "Add a duty schedule": "Ajouter un planning de garde",
    "Duty schedules": "Plannings de garde",
    "Weekly windows": "Créneaux hebdomadaires",
    "Exceptions": "Exceptions",
    "No duty schedule yet.": "Aucun planning de garde pour l’instant.",
    "%(name)s already has a duty schedule.": "%(name)s a déjà un planning de garde.",
    "A duty schedule was created for %(name)s: add its windows.": "Un planning de garde a été créé pour %(name)s : ajoutez ses créneaux.",
    "Duty schedule of %(name)s": "Planning de garde de %(name)s",
    "Windows and exceptions are times of this zone.": "Les créneaux et les exceptions sont des heures de ce fuseau.",
    "Remove the schedule…": "Retirer le planning…",
    "(ends the next day)": "(finit le lendemain)",
    "No window: never on duty but by an exception.": "Aucun créneau : jamais de garde, sauf par une exception.",
    "Day": "Jour",
    "Start": "Début",
    "End": "Fin",
    "Start (optional)": "Début (facultatif)",
    "End (optional)": "Fin (facultative)",
    "Date": "Date",
    "Note": "Note",
    "Off duty": "Pas de garde",
    "all day": "toute la journée",
    "No exception.": "Aucune exception.",
    "Monday": "Lundi",
    "Tuesday": "Mardi",
    "Wednesday": "Mercredi",
    "Thursday": "Jeudi",
    "Friday": "Vendredi",
    "Saturday": "Samedi",
    "Sunday": "Dimanche",
    "Enter a time as HH:MM.": "Saisissez une heure au format HH:MM.",
    "Choose a day of the week.": "Choisissez un jour de la semaine.",
    "Enter a date.": "Saisissez une date.",
    "Choose off or on duty.": "Choisissez de garde ou pas de garde.",
    "The time zone was changed.": "Le fuseau horaire a été changé.",
    "The window was added.": "Le créneau a été ajouté.",
    "The exception was added.": "L’exception a été ajoutée.",
    "%(day)s %(start)s–%(end)s": "%(day)s %(start)s–%(end)s",
    "Remove the window %(window)s": "Retirer le créneau %(window)s",
    "%(name)s will no longer be on duty in this weekly window.": "%(name)s ne sera plus de garde dans ce créneau hebdomadaire.",
    "The window %(window)s of %(name)s was removed.": "Le créneau %(window)s de %(name)s a été retiré.",
    "Remove the exception of %(date)s": "Retirer l’exception du %(date)s",
    "The weekly windows of %(name)s apply again on that date.": "Les créneaux hebdomadaires de %(name)s s’appliquent de nouveau à cette date.",
    "The exception of %(date)s of %(name)s was removed.": "L’exception du %(date)s de %(name)s a été retirée.",
    "Remove the duty schedule of %(name)s": "Retirer le planning de garde de %(name)s",
    "%(name)s will no longer be on duty at any time; the windows and exceptions of the schedule are deleted.": "%(name)s ne sera plus jamais de garde ; les créneaux et les exceptions du planning sont supprimés.",
    "The duty schedule of %(name)s was removed.": "Le planning de garde de %(name)s a été retiré.",
    "View who is on duty": "Voir qui est de garde",
    # OAuth clients
    "Copy this client secret now: it is shown only once.": "Copiez ce secret client maintenant : il n’est affiché qu’une fois.",
    "Client ID": "Identifiant client",
    "Client secret": "Secret client",
    "Token endpoint": "Point de terminaison des jetons",
    "Register an OAuth client": "Enregistrer un client OAuth",
    "A script gets short-lived API tokens with the client credentials grant; it acts as the Admin it is registered for.": "Un script obtient des jetons d’API de courte durée avec l’octroi « client credentials » ; il agit au nom de l’Admin pour lequel il est enregistré.",
    "Acting Admin (email)": "Admin représenté (e-mail)",
    "Client label": "Libellé du client",
    "Register": "Enregistrer",
    # resources and permissions: filters, paging, inherited permissions
    "All kinds": "Toutes les sortes",
    "Production": "Production",
    "Production or not": "Production ou non",
    "Production only": "Production seulement",
    "Not production": "Hors production",
    "Through groups only: %(n)s users": "Seulement par des groupes : %(n)s utilisateurs",
    "No resource matches these filters.": "Aucune ressource ne correspond à ces filtres.",
    # help topics
    "Connecting your identity provider (SCIM): Okta and Entra ID": "Connecter votre fournisseur d’identité (SCIM) : Okta et Entra ID",
    "Other topics:": "Autres sujets :",
    "Other topics": "Autres sujets",
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
    # issue 14, console: activation, invitations again, the users list, accessibility
    "Activate %(name)s": "Activer %(name)s",
    "Activate…": "Activer…",
    "%(name)s (%(email)s) will be able to sign in and use the application again.": "%(name)s (%(email)s) pourra de nouveau se connecter et utiliser l’application.",
    "As a %(type)s, they take one of the plan's paying seats: %(used)s of %(limit)s are in use now, %(after)s after.": "En tant que %(type)s, il occupe une des places payantes du forfait\u00a0: %(used)s sur %(limit)s sont occupées maintenant, %(after)s ensuite.",
    "No seat is left: the activation will be refused until a seat is freed or the plan is raised.": "Il ne reste aucune place\u00a0: l’activation sera refusée tant qu’une place n’est pas libérée ou le forfait augmenté.",
    "As a %(type)s, they take no paying seat.": "En tant que %(type)s, il n’occupe aucune place payante.",
    "Resources they own become accessible again.": "Les ressources dont il est propriétaire redeviennent accessibles.",
    "Automations and integrations disabled when they were deactivated stay disabled until someone turns them back on.": "Les automatisations et intégrations désactivées lors de sa désactivation restent désactivées jusqu’à ce que quelqu’un les réactive.",
    "Resend invitation": "Renvoyer l’invitation",
    "A new invitation was sent to %(name)s; earlier links no longer work.": "Une nouvelle invitation a été envoyée à %(name)s\u202f; les liens précédents ne fonctionnent plus.",
    "A new invitation was made for %(name)s, but not mailed: mail is not configured on this server. Earlier links no longer work.": "Une nouvelle invitation a été créée pour %(name)s, mais pas envoyée\u00a0: l’e-mail n’est pas configuré sur ce serveur. Les liens précédents ne fonctionnent plus.",
    "Name Z–A": "Nom Z–A",
    "Type (Admin first)": "Type (Admin d’abord)",
    "Type (Guest first)": "Type (Invité d’abord)",
    "Status (active first)": "Statut (actifs d’abord)",
    "Status (inactive first)": "Statut (inactifs d’abord)",
    "Users per page": "Utilisateurs par page",
    "%(n)s per page": "%(n)s par page",
    "%(total)s users": "%(total)s utilisateurs",
    "Select the first %(n)s users of this list": "Sélectionner les %(n)s premiers utilisateurs de cette liste",
    "Select %(name)s": "Sélectionner %(name)s",
    "Type: %(type)s. Change type": "Type\u00a0: %(type)s. Changer le type",
    "Actions for %(name)s": "Actions pour %(name)s",
    "Change the selected users": "Modifier les utilisateurs sélectionnés",
    "The first %(n)s users of this list (%(total)s match; at most %(max)s)": "Les %(n)s premiers utilisateurs de cette liste (%(total)s correspondent\u202f; %(max)s au plus)",
    "Review the change…": "Vérifier la modification…",
    "The first %(n)s users of the list's filter are selected (%(total)s users match it; a bulk change covers at most %(max)s).": "Les %(n)s premiers utilisateurs du filtre de la liste sont sélectionnés (%(total)s y correspondent\u202f; une modification groupée en couvre %(max)s au plus).",
    "Skip to content": "Aller au contenu",
    "Navigation": "Navigation",
    "Main": "Principal",
    "A confirmation link for %(name)s was sent to %(email)s; the email changes once it is followed.": "Un lien de confirmation pour %(name)s a été envoyé à %(email)s\u202f; l’e-mail changera une fois le lien suivi.",
    "No confirmation link for %(name)s was mailed to %(email)s: mail is not configured on this server.": "Aucun lien de confirmation pour %(name)s n’a été envoyé à %(email)s\u00a0: l’envoi d’e-mails n’est pas configuré sur ce serveur.",
    "The profile of %(name)s was saved.": "Le profil de %(name)s a été enregistré.",
    # webhooks
    "Webhooks": "Webhooks",
    "All events": "Tous les événements",
    "Attempt": "Tentative",
    "Copy this signing secret now: it is shown only once.": "Copiez ce secret de signature maintenant : il n’est affiché qu’une fois.",
    "Delete the webhook to %(url)s": "Supprimer le webhook vers %(url)s",
    "Delivered up to position": "Livré jusqu’à la position",
    "Delivery log": "Journal des livraisons",
    "Description": "Description",
    "Each endpoint receives the account's provisioning events (users, groups, memberships) in order, signed with its secret (Standard Webhooks).": "Chaque point de terminaison reçoit les événements de provisionnement du compte (utilisateurs, groupes, appartenances) dans l’ordre, signés avec son secret (Standard Webhooks).",
    "Enabled": "Activé",
    "Event": "Événement",
    "Events": "Événements",
    "Events (none checked: all events)": "Événements (aucun coché : tous les événements)",
    "Events from position %(position)s will be delivered again, in order.": "Les événements à partir de la position %(position)s seront livrés de nouveau, dans l’ordre.",
    "Failing since %(when)s": "En échec depuis le %(when)s",
    "Health": "État",
    "Healthy": "En bonne santé",
    "Last delivery": "Dernière livraison",
    "Last error": "Dernière erreur",
    "New secret": "Nouveau secret",
    "Next attempt": "Prochaine tentative",
    "No delivery yet.": "Aucune livraison pour l’instant.",
    "No webhook endpoint yet.": "Aucun point de terminaison de webhook pour l’instant.",
    "Not delivered": "Non livré",
    "Paused": "En pause",
    "Register an endpoint": "Enregistrer un point de terminaison",
    "Replay from here": "Rejouer à partir d’ici",
    "Retrying": "Nouvelles tentatives en cours",
    "Send a test event": "Envoyer un événement de test",
    "Test event delivered (HTTP %(status)s, %(ms)s ms).": "Événement de test livré (HTTP %(status)s, %(ms)s ms).",
    "The previous secret also signs until %(when)s.": "L’ancien secret signe aussi jusqu’au %(when)s.",
    "The previous secret still signs for": "L’ancien secret signe encore pendant",
    "The test event was not delivered: %(error)s": "L’événement de test n’a pas été livré : %(error)s",
    "The webhook to %(url)s was deleted.": "Le webhook vers %(url)s a été supprimé.",
    "This endpoint will receive no more events, and its delivery log is deleted with it. Registering it again gives it a new secret and only the events from then on.": "Ce point de terminaison ne recevra plus d’événements, et son journal des livraisons est supprimé avec lui. L’enregistrer de nouveau lui donne un nouveau secret et seulement les événements à partir de ce moment.",
    "Time": "Durée",
    "URL": "URL",
    "URL (https://)": "URL (https://)",
    "Waiting": "En attente",
    "Webhook saved.": "Webhook enregistré.",
    "no answer": "pas de réponse",
    "old secret for %(n)s h": "ancien secret pendant %(n)s h",
    "Webhook health": "Santé des webhooks",
    "%(n)s endpoints, %(failing)s failing": "%(n)s points de terminaison, %(failing)s en échec",
    "Oldest undelivered event: %(age)s ago": "Plus ancien événement non livré : il y a %(age)s",
    "All events delivered.": "Tous les événements sont livrés.",
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

# The domain's refusal templates (``scim_server.domain.errors``), English → French, with the same
# parameters. tests/ui/test_i18n.py finds every template the domain and the hub raise: a new
# refusal without its French sentence fails that test.
DOMAIN_FR: dict[str, str] = {
    # groups
    "no user or group %(id)s": "Aucun utilisateur ni groupe %(id)s.",
    "a group cannot be a member of itself": "Un groupe ne peut pas être membre de lui-même.",
    # the provisioning log
    "no request %(id)s": "Aucune requête %(id)s.",
    "no connection %(id)s": "Aucune connexion %(id)s.",
    "profile must be one of %(profiles)s": "Le profil doit être l’un de : %(profiles)s.",
    # events as signed SETs (RFC 8936 poll)
    "at most %(max)s acknowledgements at once": "Au plus %(max)s accusés de réception à la fois.",
    # webhooks
    "refused webhook URL: %(reason)s": "Adresse de webhook refusée : %(reason)s",
    "no webhook endpoint %(id)s": "Aucun point de terminaison de webhook %(id)s.",
    "an account has at most %(max)s webhook endpoints": "Un compte a au plus %(max)s points de terminaison de webhook.",
    "no event %(id)s": "Aucun événement %(id)s.",
    "the position must be between 1 and %(last)s": "La position doit être comprise entre 1 et %(last)s.",
    "the overlap must be between 0 and 7 days": "Le chevauchement doit être compris entre 0 et 7 jours.",
    "give either a position or an event_id": "Donnez soit une position, soit un event_id.",
    # invitations sent again
    "only a pending user has an invitation to resend; this user is %(status)s": "Seul un utilisateur en attente a une invitation à renvoyer ; cet utilisateur est %(status)s.",
    "this user has no email address to send the invitation to": "Cet utilisateur n’a pas d’adresse e-mail à laquelle envoyer l’invitation.",
    # accounts and plans
    "an account name is 1-100 letters, digits, spaces, '.', '_' or '-'": "Un nom de compte compte de 1 à 100 lettres, chiffres, espaces, « . », « _ » ou « - ».",
    "an account named %(name)r already exists": "Un compte nommé « %(name)s » existe déjà.",
    "a rate limit is 0 or more per second, with a burst of 1 or more": "Une limite de débit est de 0 ou plus par seconde, avec une rafale de 1 ou plus.",
    "there is no plan %(name)r (plans: %(known)s)": "Il n’y a pas d’offre « %(name)s » (offres : %(known)s).",
    "seats and operators must be 1 or more": "Les sièges et les opérateurs doivent être 1 ou plus.",
    "the account uses %(paying)s seats and %(operators)s operators; a lower limit needs --force (users stay; new paying activations are then refused)": "Le compte utilise %(paying)s sièges et %(operators)s opérateurs ; une limite plus basse demande --force (les utilisateurs restent ; les nouvelles activations payantes sont alors refusées).",
    "no account %(name)r": "Aucun compte « %(name)s ».",
    "an account has at least one domain": "Un compte a au moins un domaine.",
    "%(value)r is not a domain name": "« %(value)s » n’est pas un nom de domaine.",
    "the default type of SCIM creates is Member or Viewer": "Le type par défaut des créations SCIM est Membre ou Lecteur.",
    # users and their rules
    "user type %(type)r is not valid; use one of %(types)s": "Le type d’utilisateur « %(type)s » n’est pas valide ; utilisez l’un de : %(types)s.",
    "status must be one of %(statuses)s": "Le statut doit être l’un de : %(statuses)s.",
    "%(domain)s is one of the account's own domains: make this user a Member or Viewer, not a Guest": "%(domain)s est l’un des domaines du compte : faites de cet utilisateur un Membre ou un Lecteur, pas un Invité.",
    "guests from %(domain)s are not allowed in this account": "Les invités de %(domain)s ne sont pas acceptés dans ce compte.",
    "all %(limit)s seats of the plan are taken by active paying users": "Les %(limit)s sièges de l’offre sont tous pris par des utilisateurs payants actifs.",
    "the plan allows %(limit)s users and all are in use": "L’offre permet %(limit)s utilisateurs et tous sont utilisés.",
    "this user has not accepted the invitation yet; pending users cannot be activated or deactivated": "Cet utilisateur n’a pas encore accepté l’invitation ; un utilisateur en attente ne peut être ni activé ni désactivé.",
    "a bulk change cannot turn a %(before)s into a paying %(after)s; change this user on its own": "Une modification groupée ne peut pas faire d’un %(before)s un %(after)s payant ; modifiez cet utilisateur seul.",
    "this Admin holds an unrevoked SCIM token; revoke or reassign it first": "Cet Admin détient un jeton SCIM non révoqué ; révoquez-le ou réattribuez-le d’abord.",
    "this is the account's last active Admin; promote another one first": "C’est le dernier Admin actif du compte ; promouvez-en un autre d’abord.",
    "another user of this account has %(email)s": "Un autre utilisateur de ce compte a l’adresse %(email)s.",
    "deactivate the user before deleting them": "Désactivez l’utilisateur avant de le supprimer.",
    "not a profile field: %(fields)s": "Pas un champ du profil : %(fields)s.",
    "an admin cannot set another user's password": "Un admin ne peut pas définir le mot de passe d’un autre utilisateur.",
    "an email address changes only once the new address confirms it: start an email change instead": "Une adresse e-mail ne change qu’une fois la nouvelle adresse confirmée : lancez plutôt un changement d’e-mail.",
    "the time needs a time zone": "L’heure doit avoir un fuseau horaire.",
    "the time is in the future": "L’heure est dans le futur.",
    "a user %(email)s already exists": "Un utilisateur %(email)s existe déjà.",
    "this invitation link is unknown, used or expired": "Ce lien d’invitation est inconnu, déjà utilisé ou expiré.",
    "this confirmation link is unknown or already used": "Ce lien de confirmation est inconnu ou déjà utilisé.",
    "this confirmation link has expired; the email was not changed": "Ce lien de confirmation a expiré ; l’e-mail n’a pas été changé.",
    "give either a user type or a status": "Donnez soit un type d’utilisateur, soit un statut.",
    "a bulk change covers at most %(max)s users, not %(n)s": "Une modification groupée porte sur %(max)s utilisateurs au plus, pas %(n)s.",
    "a bulk change cannot include yourself": "Une modification groupée ne peut pas vous inclure vous-même.",
    "status must be active or inactive": "Le statut doit être actif ou inactif.",
    "no user %(id)s": "Aucun utilisateur %(id)s.",
    "No such user in this account": "Aucun utilisateur de ce nom dans ce compte.",
    # tokens, credentials, groups
    "kind must be one of %(kinds)s": "La sorte doit être l’une de : %(kinds)s.",
    "A SCIM token can only be issued to an active Admin of the account.": "Un jeton SCIM ne peut être émis que pour un Admin actif du compte.",
    "No such credential in this account": "Aucun identifiant de ce nom dans ce compte.",
    "tokens are issued to active users only": "Les jetons ne sont émis que pour des utilisateurs actifs.",
    "no token %(id)s": "Aucun jeton %(id)s.",
    "tokens can be reassigned to active Admins": "Les jetons ne peuvent être réattribués qu’à des Admins actifs.",
    "OAuth clients act as an active Admin": "Un client OAuth agit en tant qu’Admin actif.",
    "no OAuth client %(id)s": "Aucun client OAuth %(id)s.",
    "no operator token %(id)s": "Aucun jeton d’opérateur %(id)s.",
    "a group named %(name)s already exists": "Un groupe nommé %(name)s existe déjà.",
    "no group %(id)s": "Aucun groupe %(id)s.",
    # lists and cursors
    "sort must be one of %(sorts)s": "Le tri doit être l’un de : %(sorts)s.",
    "sort must be one of %(sorts)s, optionally prefixed with '-'": "Le tri doit être l’un de : %(sorts)s, précédé ou non de « - ».",
    "order must be asc or desc": "L’ordre doit être asc ou desc.",
    "the cursor is not one this list returned": "Ce curseur ne vient pas de cette liste.",
    "not an event type: %(types)s": "Pas un type d’événement : %(types)s.",
    "the cursor is not one this server gave": "Ce curseur ne vient pas de ce serveur.",
    "the cursor is not one this server gave to this account": "Ce curseur n’a pas été donné à ce compte par ce serveur.",
    "limit must be between 1 and 500": "La limite doit être comprise entre 1 et 500.",
    "offset must not be negative": "Le décalage ne doit pas être négatif.",
    # resources and permissions
    "the %(role)s must be an active user; this one is %(status)s": "Le %(role)s doit être un utilisateur actif ; celui-ci est %(status)s.",
    "no resource %(id)s": "Aucune ressource %(id)s.",
    "only a user can claim resources": "Seul un utilisateur peut revendiquer des ressources.",
    "only automations and integrations can be enabled": "Seules les automatisations et les intégrations peuvent être activées.",
    "transfer or claim this resource before enabling it": "Transférez ou revendiquez cette ressource avant de l’activer.",
    "user %(id)s does not own %(ids)s": "L’utilisateur %(id)s ne possède pas %(ids)s.",
    "the principal must be a user or a group": "Le bénéficiaire doit être un utilisateur ou un groupe.",
    "no %(principal)s %(id)s": "Introuvable (%(principal)s) : %(id)s.",
    "level must be one of %(levels)s": "Le niveau doit être l’un de : %(levels)s.",
    "the %(principal)s %(id)s holds no permission on %(resource)s": "Le bénéficiaire (%(principal)s) %(id)s n’a aucune permission sur %(resource)s.",
    # duty schedules
    "%(name)r is not an IANA time zone name (for example Europe/Paris)": "« %(name)s » n’est pas un nom de fuseau horaire IANA (par exemple Europe/Paris).",
    "kind must be one of off, on": "La sorte doit être off ou on.",
    "give both start and end, or neither": "Donnez le début et la fin, ou aucun des deux.",
    "an 'on' exception needs a start and an end": "Une exception « on » demande un début et une fin.",
    "note is longer than 200 characters": "La note dépasse 200 caractères.",
    "weekday must be monday to sunday": "Le jour doit aller de lundi à dimanche.",
    "at most %(n)s windows": "%(n)s plages au plus.",
    "at most %(n)s exceptions": "%(n)s exceptions au plus.",
    "user %(id)s has no duty schedule": "L’utilisateur %(id)s n’a pas de planning de garde.",
    "user %(id)s has no duty schedule; PUT one first": "L’utilisateur %(id)s n’a pas de planning de garde ; créez-en un d’abord.",
    "no window %(id)s in this schedule": "Aucune plage %(id)s dans ce planning.",
    "no exception %(id)s in this schedule": "Aucune exception %(id)s dans ce planning.",
    "the instant needs a time zone offset": "L’instant doit avoir un décalage horaire.",
}

# Parameters of refusals that are words of the UI (a status, a type, a role), translated with
# the catalogue; every other value (a name, an email, an id) is shown as given.
WORD_PARAMS = frozenset({"role", "status", "before", "after", "principal"})

# Plural forms: the English singular is the key; English uses the plural from 2, French from 2
# too (0 and 1 are singular in French, 0 is plural in English).
PLURALS_FR: dict[str, tuple[str, str]] = {
    "%(n)s inactive for over 30 days": ("%(n)s inactif depuis plus de 30 jours",
                                        "%(n)s inactifs depuis plus de 30 jours"),
    "%(n)s user": ("%(n)s utilisateur", "%(n)s utilisateurs"),
    "%(n)s group": ("%(n)s groupe", "%(n)s groupes"),
    "%(n)s without members": ("%(n)s sans membre", "%(n)s sans membre"),
    "%(n)s selected": ("%(n)s sélectionné", "%(n)s sélectionnés"),
    "%(n)s will change": ("%(n)s sera modifié", "%(n)s seront modifiés"),
    "%(n)s will be skipped": ("%(n)s sera ignoré", "%(n)s seront ignorés"),
    "%(n)s changed": ("%(n)s modifié", "%(n)s modifiés"),
    "%(n)s skipped": ("%(n)s ignoré", "%(n)s ignorés"),
    "Apply to %(n)s user": ("Appliquer à %(n)s utilisateur", "Appliquer à %(n)s utilisateurs"),
    "%(n)s user in this account": ("%(n)s utilisateur dans ce compte",
                                   "%(n)s utilisateurs dans ce compte"),
    "%(n)s resource moved.": ("%(n)s ressource transférée.", "%(n)s ressources transférées."),
    "%(n)s resource claimed.": ("%(n)s ressource revendiquée.",
                                "%(n)s ressources revendiquées."),
    "%(n)s in production": ("%(n)s en production", "%(n)s en production"),
    "%(n)s member": ("%(n)s membre", "%(n)s membres"),
    # the word after a figure shown apart from it (the hub's cards)
    "user": ("utilisateur", "utilisateurs"),
    "group": ("groupe", "groupes"),
}
# English plurals of the keys above (the English singular is the key itself).
PLURALS_EN: dict[str, str] = {
    "%(n)s inactive for over 30 days": "%(n)s inactive for over 30 days",
    "%(n)s user": "%(n)s users",
    "%(n)s group": "%(n)s groups",
    "%(n)s without members": "%(n)s without members",
    "%(n)s selected": "%(n)s selected",
    "%(n)s will change": "%(n)s will change",
    "%(n)s will be skipped": "%(n)s will be skipped",
    "%(n)s changed": "%(n)s changed",
    "%(n)s skipped": "%(n)s skipped",
    "Apply to %(n)s user": "Apply to %(n)s users",
    "%(n)s user in this account": "%(n)s users in this account",
    "%(n)s resource moved.": "%(n)s resources moved.",
    "%(n)s resource claimed.": "%(n)s resources claimed.",
    "%(n)s in production": "%(n)s in production",
    "%(n)s member": "%(n)s members",
    "user": "users",
    "group": "groups",
}

FR.update({
    # refusals and the words their parameters use
    "(rule: %(rule)s)": "(règle : %(rule)s)",
    "owner": "propriétaire",
    "new owner": "nouveau propriétaire",
    "claimant": "demandeur",
    "user": "utilisateur",
    "group": "groupe",
    "deleted": "supprimé",
    # typography and formats
    "%(label)s: %(value)s": "%(label)s : %(value)s",
    # the audit log: filters, names, targets
    "Action": "Action",
    "All actions": "Toutes les actions",
    "From": "Du",
    "To": "Au",
    "The start date is after the end date.": "La date de début est après la date de fin.",
    "Enter a date as YYYY-MM-DD.": "Saisissez une date au format AAAA-MM-JJ.",
    "unknown user %(id)s": "utilisateur inconnu %(id)s",
    "deleted user %(id)s": "utilisateur supprimé %(id)s",
    "Group %(name)s": "Groupe %(name)s",
    "credential": "identifiant",
    "resource": "ressource",
    "account": "compte",
    "oauth_client": "client OAuth",
    "changed": "modifié",
    "yes": "oui",
    "no": "non",
    "and %(n)s more": "et %(n)s de plus",
    # the audit log: actions
    "User created": "Utilisateur créé",
    "User changed (SCIM)": "Utilisateur modifié (SCIM)",
    "User deleted": "Utilisateur supprimé",
    "User invited": "Utilisateur invité",
    "Invitation accepted": "Invitation acceptée",
    "User activated": "Utilisateur activé",
    "User deactivated": "Utilisateur désactivé",
    "Type changed": "Type modifié",
    "Type changed (bulk)": "Type modifié (groupé)",
    "Status changed (bulk)": "Statut modifié (groupé)",
    "Profile changed": "Profil modifié",
    "Email change requested": "Changement d’e-mail demandé",
    "Email changed": "E-mail modifié",
    "Group created": "Groupe créé",
    "Group changed (SCIM)": "Groupe modifié (SCIM)",
    "Group deleted": "Groupe supprimé",
    "Group renamed": "Groupe renommé",
    "Members added": "Membres ajoutés",
    "Members removed": "Membres retirés",
    "Members changed (SCIM)": "Membres modifiés (SCIM)",
    "Token issued": "Jeton émis",
    "Token revoked": "Jeton révoqué",
    "Token reassigned": "Jeton réattribué",
    "OAuth client created": "Client OAuth créé",
    "OAuth client revoked": "Client OAuth révoqué",
    "Resource created": "Ressource créée",
    "Ownership transferred": "Propriété transférée",
    "Resources claimed": "Ressources revendiquées",
    "Resource enabled": "Ressource activée",
    "Resource disabled": "Ressource désactivée",
    "Permission granted": "Permission accordée",
    "Permission revoked": "Permission retirée",
    "Duty schedule set": "Planning de garde défini",
    "Duty schedule deleted": "Planning de garde supprimé",
    "Duty window added": "Plage de garde ajoutée",
    "Duty window removed": "Plage de garde retirée",
    "Duty exception added": "Exception de garde ajoutée",
    "Duty exception removed": "Exception de garde retirée",
    "Account settings changed": "Paramètres du compte modifiés",
    "Plan changed": "Offre modifiée",
    "Rate limit changed": "Limite de débit modifiée",
    "Account suspended": "Compte suspendu",
    "Account resumed": "Compte réactivé",
    # the audit log: attributes
    "Active": "Actif",
    "User name": "Nom d’utilisateur",
    "Added": "Ajoutés",
    "Removed": "Retirés",
    "All members removed": "Tous les membres retirés",
    "Count": "Nombre",
    "Unknown members": "Membres inconnus",
    "Owner": "Propriétaire",
    "Level": "Niveau",
    "Enabled": "Activé",
    "Email domains": "Domaines de messagerie",
    "Guests allowed from": "Invités acceptés de",
    "Guests refused from": "Invités refusés de",
    "Default type": "Type par défaut",
    "Requests per second": "Requêtes par seconde",
    "Burst": "Rafale",
    "Duty window": "Plage de garde",
    "Duty exception": "Exception de garde",
    # the pages of emailed links (invitation, email confirmation)
    "Account": "Compte",
    "Requested by": "Demandé par",
    "Invited address": "Adresse invitée",
    "Invited by": "Invité par",
    "Link valid until": "Lien valable jusqu’au",
    "Link expired": "Lien expiré le",
    "Nothing changes until you confirm.": "Rien ne change tant que vous n’avez pas confirmé.",
})

_NARROW_NBSP = "\u202f"
# A plain space before : ; ? ! » and after «, outside a %(name)s parameter (filled later).
_SPACED_PUNCTUATION = re.compile(r"[ \u00a0]([:;?!»])|(«)[ \u00a0]")


def french_typography(text: str) -> str:
    """French spacing: a narrow no-break space before ``: ; ? !`` and inside « »."""
    return _SPACED_PUNCTUATION.sub(
        lambda m: _NARROW_NBSP + m.group(1) if m.group(1) else m.group(2) + _NARROW_NBSP, text)


CATALOGUES: dict[str, dict[str, str]] = {
    "en": {},
    "fr": {key: french_typography(value) for key, value in {**FR, **DOMAIN_FR}.items()},
}
PLURALS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {key: (key, plural) for key, plural in PLURALS_EN.items()},
    "fr": {key: (french_typography(one), french_typography(many))
           for key, (one, many) in PLURALS_FR.items()},
}


def pick_language() -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LANGUAGE)


def current_language() -> str:
    return g.get("lang") or DEFAULT_LANGUAGE


def gettext(message: str, **params: Any) -> str:
    """Translate ``message`` into the request's language, then fill ``%(name)s`` parameters
    (numbers formatted for the language)."""
    text = CATALOGUES.get(current_language(), {}).get(message, message)
    return text % _shown(params) if params else text


def ngettext(singular: str, n: int, **params: Any) -> str:
    """The form of ``singular`` (a key of ``PLURALS_EN``) for the count ``n``, filled with
    ``n`` and ``params``."""
    lang = current_language()
    one, many = PLURALS.get(lang, {}).get(singular) or (singular, PLURALS_EN.get(singular,
                                                                                 singular))
    is_one = n in (0, 1) if lang == "fr" else n == 1
    return (one if is_one else many) % _shown({**params, "n": n})


def _shown(params: dict[str, Any]) -> dict[str, Any]:
    return {key: format_number(value) if _is_number(value) else value
            for key, value in params.items()}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def format_number(value: int | float | None) -> str:
    """20,007 in English, 20 007 (narrow no-break space) in French."""
    if value is None:
        return ""
    text = f"{value:,}"
    if current_language() == "fr":
        return text.replace(",", _NARROW_NBSP).replace(".", ",", 1) if "." in text \
            else text.replace(",", _NARROW_NBSP)
    return text


def domain_text(template: str, params: dict[str, Any]) -> str:
    """A domain refusal (English template and its values) in the request's language: the
    values that are UI words (``WORD_PARAMS``) are translated, the others shown as given."""
    text = CATALOGUES.get(current_language(), {}).get(template)
    if text is None:
        # Not a domain template (a sentence the UI wrote itself) or English: as the domain
        # formats it, ``%r`` included.
        return template % params if params else template
    values = {key: gettext(value) if key in WORD_PARAMS and isinstance(value, str) else value
              for key, value in params.items()}
    return text % _shown(values) if values else text


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


MONTHS_FR = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
             "nov.", "déc.")
_NBSP = "\u00a0"


def _local(value: dt.datetime) -> dt.datetime:
    # A naive value is taken as UTC (SQLite drops zones).
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(g.get("zone") or UTC)


def format_datetime(value: dt.datetime | None, fmt: str | None = None) -> str:
    """An instant in the admin's zone, as the language writes it: 2026-12-01 09:05 in English,
    1 déc. 2026 à 09:05 in French (no-break spaces inside the date). ``fmt`` forces a
    strftime format."""
    if value is None:
        return ""
    local = _local(value)
    if fmt is None and current_language() == "fr":
        return f"{_french_date(local)} à {local:%H:%M}"
    return local.strftime(fmt or "%Y-%m-%d %H:%M")


def format_date(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    local = _local(value)
    return _french_date(local) if current_language() == "fr" else local.strftime("%Y-%m-%d")


def _french_date(value: dt.datetime) -> str:
    return f"{value.day}{_NBSP}{MONTHS_FR[value.month - 1]}{_NBSP}{value.year}"
