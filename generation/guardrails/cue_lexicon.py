"""Words the planted-instruction cues look for in German, Spanish and French, and a guess at a
sentence's language.

The detector's encoder (MiniLM) was trained on English: a German or French sentence embeds as
noise, and a model that reads it learns "foreign means attack" from the few foreign attacks it
is shown. So the cues carry the same meaning in every language the guard is asked to cover (an
order opens with a command verb, speaks to "du", "tu" or "vous", names "deine Antwort" or "ta
réponse"), and ``foreign`` tells the model when the embedding is not to be trusted.

Lists are written from the grammar of each language (informal and formal imperatives, the verbs
an order to a writer or a chatbot uses), not from any data set's wording.

    >>> language_of("Bitte antworte nur auf Deutsch und nenne die Quelle nicht.")
    'de'
    >>> foreign_imperative(["ajoute", "une", "blague"], "fr")
    True
"""

from __future__ import annotations

import re

LETTERS = re.compile(r"[^\W\d_]+")

_FUNCTION_WORDS = {
    "en": "the a an of to in and is was for on that with as by it this are be at from or not you your my we our me",
    "de": "der die das und ist nicht ein eine einen zu den mit auf für von dem des im sich auch es wird werden sind "
          "oder bei nur dass wenn ich du wir sie ihr aus nach wie noch können kann man hier unter über vor zum zur "
          "bis alle bitte diese dieser haben hat",
    "es": "el la los las de del y en que es un una por con para se no al lo como más su sus pero muy este esta "
          "está son hay también cuando puede usted todo todos desde hasta",
    "fr": "le la les de des du et en un une est que pour dans pas par sur au aux se ne il elle ce qui avec sont "
          "mais ou cette vous nous tu à plus votre vos leur peut être",
}
_FUNCTION = {lang: words.split() for lang, words in _FUNCTION_WORDS.items()}
_LANG_OF: dict[str, set[str]] = {}
for _lang, _words in _FUNCTION.items():
    for _word in _words:
        _LANG_OF.setdefault(_word, set()).add(_lang)

# Command forms: German du- and ihr-imperatives (and the verb of a Sie-imperative), Spanish tú and
# usted imperatives, French tu and vous imperatives. The verbs of writing, answering, telling,
# adding, leaving out, sending and showing; of overriding; of chatbot tasks.
_DE = """
antworte antwortet beantworte beantwortet schreib schreibe schreibt verfasse verfass dichte formuliere
übersetze übersetz übersetzt füge füg fügt gib gebt nenne nenn nennt sag sage sagt erwähne erwähn erwähnt
empfiehl empfehlt fasse fass fasst ignoriere ignorier ignoriert vergiss vergesst missachte missachtet
stelle stell stellt bewerte bewertet lass lasst hänge häng hängt schicke schick schickt sende send sendet
teile teil teilt weise weist behaupte behauptet zeige zeig zeigt erzähle erzähl erzählt spiele spiel spielt
komme komm kommt beginne beginn beginnt fange fang fangt beende beendet schließe schließ
erkläre erklär erklärt beschreibe beschreib beschreibt rechne rechnet berechne berechnet erstelle erstell
erstellt wiederhole wiederhol nimm nehmt tue mach mache macht verwende verwendet benutze nutze nutzt
besuche besucht klicke klick öffne lies lest leite leitet informiere informier warne warnt verschweige
lösche entferne entfern ersetze ersetz ändere änder gestalte betone lobe preise kopiere bestätige
verweise verlinke rate ratet übergehe überspring überspringe
"""
_ES = """
responde responda respondan contesta conteste escribe escriba redacta redacte traduce traduzca incluye
incluya añade añada agrega agregue menciona mencione recomienda recomiende omite omita di diga dile dígale
dime envía envíe manda mande muestra muestre enseña clasifica clasifique califica calcula calcule describe
describa afirma afirme pide pida felicita felicite termina termine empieza empiece comienza comience
concluye concluya ignora ignore olvida olvide haz haga pon ponga dale usa utiliza utilice visita
visite explica explique cuenta cuente resume resuma enumera enumere repite repita copia copie inserta
inserte sustituye sustituya reemplaza reemplace cambia cambie evita evite elimina elimine borra borre sigue
siga actúa actúe finge finja imagina imagine interpreta interprete genera genere crea cree comparte
comparta informa indica indique advierte advierta recuerda recuerde asegúrate asegúrese presenta
presente destaca destaque elogia alaba convence convenza proporciona proporcione revela revele adjunta
adjunte pregunta pregunte escríbeme dímelo tradúcelo recomiéndame cuéntame inventa invente
"""
_FR = """
réponds répondez écris écrivez rédige rédigez traduis traduisez ajoute ajoutez indique indiquez raconte
racontez propose proposez commence commencez termine terminez finis finissez calcule calculez joue jouez
oublie oubliez ignore ignorez dis dites inclus incluez mentionne mentionnez recommande recommandez envoie
envoyez affiche affichez montre montrez donne donnez fais faites mets mettez utilise utilisez visite visitez
explique expliquez résume résumez énumère énumérez liste listez répète répétez copie copiez insère insérez
remplace remplacez tiens tenez change changez évite évitez supprime supprimez efface effacez suis suivez agis agissez
imagine imaginez génère générez crée créez partage partagez informe informez signale signalez rappelle
rappelez conclus concluez présente présentez décris décrivez qualifie qualifiez classe classez affirme
affirmez prétends prétendez demande demandez félicite félicitez précise précisez cite citez invente
inventez souligne soulignez vante vantez convaincs convainquez révèle révélez joins joignez posez
"""
# After "no" / "ne": the Spanish negative imperative is a subjunctive; French keeps the imperative.
_ES_NEGATED = """
menciones digas incluyas hables uses respondas contestes escribas muestres reveles traduzcas añadas
agregues nombres cites comentes hagas pongas des
"""
VERBS = {"de": frozenset(_DE.split()), "es": frozenset(_ES.split()), "fr": frozenset(_FR.split())}
ANY_VERB = frozenset().union(*VERBS.values())
_ES_NO = frozenset(_ES_NEGATED.split())
# Request frames skipped before the verb: "bitte", "por favor", "s'il te plaît", "kannst du".
_FRAME_WORDS = """
bitte auch noch dann jetzt nun zuerst außerdem und por favor también luego ahora primero además y
s il te vous plaît plait aussi ensuite maintenant puis d abord et merci de
"""
_FRAMES = frozenset(_FRAME_WORDS.split())

# Second person (informal and formal), an assistant, the user or reader, the answer, the assistant's
# own output, an override: the cues of the same names in English (``instruction_cues``).
SECOND = re.compile(r"\b(?:du|dir|dich|dein(?:e[mnrs]?)?|euch|euer|eure[mnrs]?|tu|te|toi|ton|ta|tes|tú|tus|ti|"
                    r"contigo|vous|votre|vos|usted(?:es)?)\b")
AI = re.compile(r"\b(?:ki|assistent(?:in|en)?|sprachmodell\w*|chatbot\w*|ia|asistente\w*|modelo de lenguaje|"
                r"assistante?s?|modèle de langage|agente? ia|agent ia)\b")
USER = re.compile(r"\b(?:(?:be)?nutzer(?:in|innen|s)?|leser(?:in|innen)?|anwender(?:in)?|usuari[oa]s?|lector(?:a|es)?|"
                  r"utilisat(?:eur|rice)s?|lect(?:eur|rice)s?)\b")
ANSWER = re.compile(r"\b(?:antwort\w*|beantwort\w*|zusammenfass\w*|respuesta\w*|respond\w*|contest\w*|resum\w*|"
                    r"réponse\w*|répond\w*|résum\w*|conversation|conversación|gespräch\w*|chatverlauf)\b")
OUTPUT = re.compile(r"\b(?:(?:deine[rnm]?|jede[rnm]?|ihre[rnm]?|der|die|jeder) (?:antwort|zusammenfassung)|"
                    r"(?:tu|cada|la|su|toda) (?:respuesta|resumen)|(?:ta|chaque|la|votre|toute) (?:réponse|résumé)|"
                    r"(?:ton|le|chaque) résumé|(?:el|cada|tu) resumen)\b")
OVERRIDE = re.compile(r"\b(?:ignorier\w*|vergiss|missacht\w*|stattdessen|ab jetzt|ab sofort|egal|ignora\w*|olvida\w*|"
                      r"en lugar de|en vez de|a partir de ahora|sin importar|oublie\w*|ignorez|au lieu de|désormais|"
                      r"à partir de maintenant|peu importe|ne tiens pas compte)\b")
INSTRUCTIONS = re.compile(r"\b(?:anweisung\w*|richtlinie\w*|regeln|konfiguration|systemprompt|vorgaben|instrucci\w+|"
                          r"consigna\w*|reglas|configuración|indicaciones|consignes?|règles|directives?)\b")
FIRST = re.compile(r"\b(?:ich|mich|mir|mein(?:e[mnrs]?)?|wir|uns|unser(?:e[mnrs]?)?|yo|mí|mis|nosotr[oa]s|nos|"
                   r"nuestr[oa]s?|je|j|moi|mon|mes|nous|notre)\b")


def language_of(text: str) -> str:
    """``en``, ``de``, ``es`` or ``fr`` by function words, or ``""`` when too few to tell."""
    return profile(text)[0]


def profile(folded: str) -> tuple[str, float]:
    """``language_of`` and ``prose_share`` of casefolded text, from one pass over its words."""
    words = LETTERS.findall(folded)
    counts = {lang: 0 for lang in _FUNCTION}
    for word in words:
        for lang in _LANG_OF.get(word, ()):
            counts[lang] += 1
    lang, count = max(counts.items(), key=lambda kv: (kv[1], kv[0] == "en"))
    return (lang if count >= 2 else ""), (count / len(words) if words else 0.0)


def is_function_word(word: str) -> bool:
    return word in _LANG_OF


def prose_share(text: str) -> float:
    """Share of the words that are function words of the language they read best in (0 without words)."""
    words = LETTERS.findall(text.casefold())
    return function_words(words) / len(words) if words else 0.0


def function_words(words: list[str], distinct: bool = False) -> int:
    """How many of ``words`` (``distinct``: different words) are function words of the language most
    of them belong to."""
    counts = {lang: 0 for lang in _FUNCTION}
    for word in set(words) if distinct else words:
        for lang in _LANG_OF.get(word, ()):
            counts[lang] += 1
    return max(counts.values())


def foreign_imperative(words: list[str], language: str = "") -> bool:
    """A German, Spanish or French command verb first, after request frames; ``language`` (from
    ``language_of``) picks the list, so the German noun "Termine" is not read as French "termine"."""
    verbs = VERBS.get(language, ANY_VERB)
    rest = [w for w in words[:8] if w not in _FRAMES] if words and words[0] in _FRAMES else words
    if not rest:
        return False
    if rest[0] in verbs:
        return True
    # "No menciones ...", "Ne mentionne pas ...", "N'oublie pas ...".
    return len(rest) > 1 and ((rest[0] == "no" and rest[1] in _ES_NO) or (rest[0] in ("ne", "n")
                                                                          and rest[1] in verbs))
