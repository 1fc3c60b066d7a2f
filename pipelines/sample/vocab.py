"""Reference data the sample generator draws people and places from.

Lists are ordered from common to rare: the generator weights them with a Zipf-like curve, so
common names collide the way they do in real customer files (many unrelated "John Smith"s) while
rare ones stay rare. Places are real cities with their real postcode ranges, state or region and
telephone area codes, so that downstream parsers meet formats that exist, not invented ones.

Non-Latin names carry their usual Latin transliteration (``native|latin``), because real systems
hold the same person in both scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """``"伟|Wei 芳|Fang"`` -> ((native, latin), ...); the latin form defaults to the native one."""
    out = []
    for token in text.split():
        native, _, latin = token.partition("|")
        out.append((native.replace("_", " "), (latin or native).replace("_", " ")))
    return tuple(out)


def words(text: str) -> tuple[str, ...]:
    """Whitespace-separated entries; ``_`` stands for a space inside an entry."""
    return tuple(word.replace("_", " ") for word in text.split())


@dataclass(frozen=True)
class Culture:
    """A naming tradition: given names by sex, family names, and how often a middle name exists."""

    key: str
    male: tuple[tuple[str, str], ...]
    female: tuple[tuple[str, str], ...]
    last: tuple[tuple[str, str], ...]
    middle_rate: float
    gendered_last: bool = False
    """Family names take a feminine form (Иванов -> Иванова)."""
    native_script: bool = False
    """Names are not in Latin script (so sources often hold a transliteration)."""


CULTURES: Final[tuple[Culture, ...]] = (
    Culture(
        "anglo",
        male=_pairs(
            "James Robert John Michael William David Richard Joseph Thomas Charles Christopher "
            "Daniel Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian "
            "George Timothy Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan "
            "Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick "
            "Raymond Jack Dennis Jerry Tyler Aaron Henry Douglas Peter Adam Nathan Zachary Walter "
            "Kyle Harold Carl Arthur Gerald Roger Keith Jeremy Lawrence Terry Sean Albert Joe "
            "Christian Austin Willie Jesse Ethan Billy Bruce Bryan Ralph Roy Jordan Eugene Wayne "
            "Alan Juan Louis Russell Gabriel Randy Philip Harry Vincent Bobby Johnny Logan "
            "Theodore Frederick Liam Noah Oliver Elijah Lucas Mason Owen Dylan Connor Wyatt "
            "Nathaniel Isaac Caleb Hunter Evan Ian Luke Jayden"
        ),
        female=_pairs(
            "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy "
            "Betty Margaret Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy "
            "Melissa Deborah Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy Angela Shirley "
            "Anna Brenda Pamela Emma Nicole Helen Samantha Katherine Christine Debra Rachel "
            "Carolyn Janet Catherine Maria Heather Diane Ruth Julie Olivia Joyce Virginia "
            "Victoria Kelly Lauren Christina Joan Evelyn Judith Megan Andrea Cheryl Hannah "
            "Jacqueline Martha Gloria Teresa Ann Sara Madison Frances Kathryn Janice Jean Abigail "
            "Alice Judy Sophia Grace Denise Amber Doris Marilyn Danielle Beverly Isabella "
            "Theresa Diana Natalie Brittany Charlotte Marie Kayla Alexis Lori Ava Mia Harper "
            "Chloe Ella Zoe Lily Aubrey Penelope Claire Jane Rose Molly Valerie Peggy"
        ),
        last=_pairs(
            "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore "
            "Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker Young Allen "
            "King Wright Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner "
            "Phillips Campbell Parker Evans Edwards Collins Stewart Morris Murphy Cook Rogers "
            "Morgan Peterson Cooper Reed Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson "
            "Brooks Bennett Gray James Hughes Price Sanders Myers Long Ross Foster Powell Jenkins "
            "Perry Russell Sullivan Fisher Henderson Coleman Simmons Patterson Jordan Reynolds "
            "Hamilton Graham Wallace Cole West Stone Hayes Gibson Ellis Marshall Murray Ford "
            "Wells Webb Hunt Palmer Black Holmes Rice Hunter Dixon Warren Burns Gordon Shaw "
            "Harper Knight Lane Spencer Fox Hart Grant Porter O'Brien O'Connor McDonald "
            "MacDonald McCarthy McLaughlin O'Neill DeLuca Van_Buren Smith-Jones Fitzgerald "
            "Schultz Larson Hoffman Olson Nguyen Kim Patel Shah Khan Cohen Goldberg Kowalski "
            "Novak Rossi Russo Romano Esposito Ferrari Bianchi Lombardi Sullivan-Hart Whitaker "
            "Blackwell Abernathy Zimmerman Underwood Vaughn Holloway Pennington Ashworth Kendrick"
        ),
        middle_rate=0.7,
    ),
    Culture(
        "hispanic",
        male=_pairs(
            "José Juan Luis Carlos Jesús Miguel Antonio Jorge Francisco Alejandro Manuel Pedro "
            "Ricardo Fernando Andrés Sergio Raúl Rubén Héctor Rafael Víctor Ramón Óscar Martín "
            "Iván Adrián Joaquín Julián Sebastián Tomás"
        ),
        female=_pairs(
            "María Guadalupe Ana Carmen Rosa Laura Sofía Isabel Lucía Elena Patricia Verónica "
            "Mónica Adriana Gabriela Alejandra Marisol Beatriz Inés Raquel Ángela Natalia "
            "Mariana Daniela Paula Valentina Jimena Concepción Dolores Pilar"
        ),
        last=_pairs(
            "García Rodríguez Martínez Hernández López González Pérez Sánchez Ramírez Torres "
            "Flores Rivera Gómez Díaz Cruz Morales Reyes Gutiérrez Ortiz Muñoz Chávez Ramos "
            "Vásquez Castillo Jiménez Moreno Romero Álvarez Mendoza Ruiz Núñez Peña Ibáñez "
            "Domínguez Vega Castro Herrera Medina Aguilar de_la_Cruz"
        ),
        middle_rate=0.35,
    ),
    Culture(
        "german",
        male=_pairs(
            "Thomas Michael Andreas Stefan Klaus Peter Wolfgang Jürgen Frank Uwe Günter Jörg "
            "Markus Christian Hans Bernd Dieter Ralf Matthias Tobias Lukas Felix Jonas Leon "
            "Maximilian Paul Florian Sebastian Jan Björn Horst Manfred Helmut Friedrich Johannes"
        ),
        female=_pairs(
            "Sabine Ursula Monika Petra Gabriele Andrea Karin Renate Birgit Claudia Susanne "
            "Julia Anna Katharina Laura Lena Sophie Hannah Marie Lea Jana Anja Heike Brigitte "
            "Jutta Käthe Elisabeth Margarete Ingrid Doris"
        ),
        last=_pairs(
            "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer "
            "Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger "
            "Hofmann Hartmann Lange Schmitt Werner Krause Meier Lehmann Köhler Weiß Groß Jäger "
            "Fuchs Scholz Möller Vogel Keller Günther Frank Berger Winkler Roth Beck Lorenz "
            "Baumann Franke Albrecht von_Bergen"
        ),
        middle_rate=0.3,
    ),
    Culture(
        "french",
        male=_pairs(
            "Jean Pierre Michel André Philippe Alain Nicolas François Stéphane Jérôme Sébastien "
            "Frédéric Julien Mathieu Hugo Théo Louis Lucas Gabriel Arthur Jean-Pierre "
            "Jean-François Jacques Bernard Thierry Olivier Christophe Éric Laurent Benoît"
        ),
        female=_pairs(
            "Marie Nathalie Isabelle Sylvie Catherine Françoise Hélène Céline Aurélie Émilie "
            "Chloé Léa Manon Camille Zoé Inès Anaïs Sophie Valérie Sandrine Véronique Brigitte "
            "Marie-Claire Anne-Sophie Élodie Mélanie Juliette Margaux Lucie Amélie"
        ),
        last=_pairs(
            "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
            "Lefèbvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André "
            "Lefèvre Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier Faure "
            "Rousseau Blanc Guérin Muller Henry Roussel Nicolas Perrin Morin Mathieu Clément "
            "Gauthier Dumont Fontaine Chevalier Robin Masson Gérard Nguyen Lemaître Benoît"
        ),
        middle_rate=0.25,
    ),
    Culture(
        "nordic",
        male=_pairs(
            "Søren Bjørn Jørgen Øystein Lars Anders Nils Henrik Mikkel Rasmus Jens Kristian Ole"
        ),
        female=_pairs("Sigrid Ingrid Åsa Mette Kirsten Solveig Bodil Ragnhild Astrid Karoline"),
        last=_pairs(
            "Jørgensen Sørensen Hansen Nielsen Pedersen Andersen Løvland Bjørnstad Ødegård Kjær "
            "Møller Strøm Dahl Haugen Brøndum Østergaard Lindqvist Åberg"
        ),
        middle_rate=0.3,
    ),
    Culture(
        "greek",
        male=_pairs(
            "Γιώργος|Giorgos Δημήτρης|Dimitris Νίκος|Nikos Κωνσταντίνος|Konstantinos "
            "Ιωάννης|Ioannis Παναγιώτης|Panagiotis Χρήστος|Christos Βασίλειος|Vasileios "
            "Αθανάσιος|Athanasios Μιχάλης|Michalis"
        ),
        female=_pairs(
            "Μαρία|Maria Ελένη|Eleni Αικατερίνη|Aikaterini Σοφία|Sofia Γεωργία|Georgia "
            "Δήμητρα|Dimitra Βασιλική|Vasiliki Αναστασία|Anastasia Ευαγγελία|Evangelia "
            "Χριστίνα|Christina"
        ),
        last=_pairs(
            "Παπαδόπουλος|Papadopoulos Παπαδάκης|Papadakis Γεωργίου|Georgiou "
            "Οικονόμου|Oikonomou Νικολάου|Nikolaou Βασιλείου|Vasileiou Ιωάννου|Ioannou "
            "Κωνσταντίνου|Konstantinou Αθανασίου|Athanasiou Μακρής|Makris Καραγιάννης|Karagiannis "
            "Παππάς|Pappas"
        ),
        middle_rate=0.0,
        native_script=True,
    ),
    Culture(
        "cyrillic",
        male=_pairs(
            "Александр|Aleksandr Дмитрий|Dmitry Сергей|Sergey Андрей|Andrey Алексей|Alexey "
            "Иван|Ivan Михаил|Mikhail Николай|Nikolay Владимир|Vladimir Павел|Pavel "
            "Евгений|Evgeny Юрий|Yuri"
        ),
        female=_pairs(
            "Елена|Elena Ольга|Olga Наталья|Natalya Татьяна|Tatyana Анна|Anna Ирина|Irina "
            "Светлана|Svetlana Мария|Maria Екатерина|Ekaterina Юлия|Yulia Анастасия|Anastasia "
            "Людмила|Lyudmila"
        ),
        last=_pairs(
            "Иванов|Ivanov Смирнов|Smirnov Кузнецов|Kuznetsov Попов|Popov Васильев|Vasilyev "
            "Петров|Petrov Соколов|Sokolov Михайлов|Mikhailov Новиков|Novikov Фёдоров|Fedorov "
            "Морозов|Morozov Волков|Volkov Алексеев|Alekseev Лебедев|Lebedev Семёнов|Semenov "
            "Егоров|Egorov Павлов|Pavlov Козлов|Kozlov Степанов|Stepanov Орлов|Orlov"
        ),
        middle_rate=0.0,
        gendered_last=True,
        native_script=True,
    ),
    Culture(
        "chinese",
        male=_pairs(
            "伟|Wei 强|Qiang 磊|Lei 军|Jun 洋|Yang 勇|Yong 杰|Jie 涛|Tao 明|Ming 超|Chao "
            "刚|Gang 平|Ping 建华|Jianhua 志强|Zhiqiang 浩|Hao"
        ),
        female=_pairs(
            "芳|Fang 娜|Na 敏|Min 静|Jing 丽|Li 艳|Yan 秀英|Xiuying 霞|Xia 婷|Ting 玲|Ling "
            "慧|Hui 雪|Xue 佳|Jia 欣|Xin 颖|Ying"
        ),
        last=_pairs(
            "王|Wang 李|Li 张|Zhang 刘|Liu 陈|Chen 杨|Yang 黄|Huang 赵|Zhao 吴|Wu 周|Zhou "
            "徐|Xu 孙|Sun 马|Ma 朱|Zhu 胡|Hu 郭|Guo 何|He 林|Lin 高|Gao 罗|Luo"
        ),
        middle_rate=0.0,
        native_script=True,
    ),
)
CULTURE_INDEX: Final = {c.key: i for i, c in enumerate(CULTURES)}

# Which naming traditions live in which country (shares sum to 1 per country).
CULTURE_MIX: Final[dict[str, dict[str, float]]] = {
    "US": {
        "anglo": 0.80,
        "hispanic": 0.13,
        "chinese": 0.025,
        "cyrillic": 0.015,
        "greek": 0.01,
        "nordic": 0.01,
        "german": 0.005,
        "french": 0.005,
    },
    "GB": {
        "anglo": 0.90,
        "chinese": 0.03,
        "cyrillic": 0.02,
        "greek": 0.015,
        "nordic": 0.015,
        "french": 0.01,
        "german": 0.01,
    },
    "DE": {"german": 0.90, "cyrillic": 0.04, "greek": 0.03, "nordic": 0.02, "anglo": 0.01},
    "FR": {"french": 0.92, "chinese": 0.03, "greek": 0.01, "cyrillic": 0.02, "anglo": 0.02},
}

# Nicknames people use instead of their given name. Several canonical names share some.
NICKNAMES: Final[dict[str, tuple[str, ...]]] = {
    "Robert": ("Bob", "Rob", "Bobby", "Robbie"),
    "William": ("Bill", "Will", "Billy", "Liam"),
    "Elizabeth": ("Liz", "Beth", "Betty", "Eliza", "Lizzie"),
    "Margaret": ("Peggy", "Maggie", "Meg", "Marge"),
    "Richard": ("Rick", "Rich", "Dick", "Richie"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "John": ("Jack", "Johnny"),
    "Michael": ("Mike", "Mikey", "Mick"),
    "Katherine": ("Kate", "Kathy", "Katie", "Kat"),
    "Catherine": ("Cathy", "Cat", "Kate"),
    "Kathleen": ("Kathy", "Kate"),
    "Jennifer": ("Jen", "Jenny"),
    "Thomas": ("Tom", "Tommy"),
    "Christopher": ("Chris", "Topher"),
    "Joseph": ("Joe", "Joey"),
    "Daniel": ("Dan", "Danny"),
    "Anthony": ("Tony",),
    "Edward": ("Ed", "Eddie", "Ted", "Ned"),
    "Charles": ("Charlie", "Chuck", "Chas"),
    "Patricia": ("Pat", "Patty", "Trish", "Tricia"),
    "Susan": ("Sue", "Susie"),
    "Deborah": ("Deb", "Debbie"),
    "Debra": ("Deb", "Debbie"),
    "Rebecca": ("Becky", "Becca"),
    "Alexander": ("Alex", "Xander", "Sasha"),
    "Nicholas": ("Nick", "Nicky"),
    "Samuel": ("Sam", "Sammy"),
    "Benjamin": ("Ben", "Benny"),
    "Matthew": ("Matt",),
    "Andrew": ("Andy", "Drew"),
    "Jonathan": ("Jon", "Johnny"),
    "Steven": ("Steve",),
    "Stephen": ("Steve",),
    "Gregory": ("Greg",),
    "Timothy": ("Tim", "Timmy"),
    "Kenneth": ("Ken", "Kenny"),
    "Ronald": ("Ron", "Ronnie"),
    "Donald": ("Don", "Donnie"),
    "Joshua": ("Josh",),
    "Zachary": ("Zach", "Zack"),
    "Victoria": ("Vicky", "Tori"),
    "Jessica": ("Jess", "Jessie"),
    "Abigail": ("Abby", "Gail"),
    "Samantha": ("Sam", "Sammie"),
    "Christina": ("Chris", "Tina"),
    "Christine": ("Chris", "Chrissy"),
    "Theodore": ("Ted", "Teddy", "Theo"),
    "Lawrence": ("Larry",),
    "Gerald": ("Jerry",),
    "Frederick": ("Fred", "Freddie"),
    "Albert": ("Al", "Bert"),
    "Harold": ("Harry", "Hal"),
    "Henry": ("Hank", "Harry"),
    "Dorothy": ("Dot", "Dottie", "Dolly"),
    "Barbara": ("Barb", "Babs"),
    "Kimberly": ("Kim",),
    "Pamela": ("Pam",),
    "Cynthia": ("Cindy",),
    "Judith": ("Judy",),
    "Jacqueline": ("Jackie",),
    "Nathaniel": ("Nate", "Nat"),
    "Nathan": ("Nate",),
    "Peter": ("Pete",),
    "Raymond": ("Ray",),
    "Douglas": ("Doug",),
    "Philip": ("Phil",),
    "Walter": ("Walt", "Wally"),
    "Eugene": ("Gene",),
    "Frances": ("Fran", "Frankie"),
    "Virginia": ("Ginny", "Ginger"),
    "Valerie": ("Val",),
    "Evelyn": ("Evie",),
    "Jeffrey": ("Jeff",),
    "Gabriel": ("Gabe",),
    "Vincent": ("Vince", "Vinny"),
    "Isabella": ("Bella", "Izzy"),
    "Madison": ("Maddie",),
    "Alexis": ("Lexi",),
    "Mary": ("Molly", "Polly", "Mae"),
    "Sarah": ("Sally", "Sadie"),
    "Martha": ("Marty", "Patty"),
    "Teresa": ("Terry", "Tess"),
    "Theresa": ("Terry", "Tess"),
    "Francisco": ("Paco", "Pancho", "Frank"),
    "José": ("Pepe",),
    "Guadalupe": ("Lupe",),
    "Alejandro": ("Alex",),
    "Johannes": ("Hans", "Jo"),
    "Friedrich": ("Fritz",),
    "Wolfgang": ("Wolf",),
    "Elisabeth": ("Lisa", "Elli"),
    "Katharina": ("Kathi", "Katja"),
    "Александр": ("Саша",),
    "Дмитрий": ("Дима",),
    "Иван": ("Ваня",),
    "Aleksandr": ("Sasha",),
    "Dmitry": ("Dima",),
    "Ivan": ("Vanya",),
}

# Generational suffixes: how people write them.
SUFFIX_FORMS: Final[dict[str, tuple[str, ...]]] = {
    "Jr": ("Jr", "Jr.", "JR", "Junior"),
    "Sr": ("Sr", "Sr.", "SR", "Senior"),
    "II": ("II",),
    "III": ("III",),
}


@dataclass(frozen=True)
class City:
    """A real city with its postcode range, region and telephone area codes."""

    country: str
    name: str
    region: str
    region_code: str
    postcodes: tuple[str, ...]
    """US/DE/FR: (low, high) numeric range or a list; GB: outward codes."""
    area_codes: tuple[str, ...]
    """``"<area code>:<digits a subscriber number may start with>"``, area code without the
    trunk 0; the subscriber part fills the country's national number length."""
    weight: float
    variants: tuple[str, ...] = ()
    """Other spellings in use (Saint Louis, Muenchen, Munich)."""


def _us(name: str, state: str, lo: int, hi: int, codes: str, weight: float, *variants: str) -> City:
    return City(
        "US",
        name,
        US_STATES[state],
        state,
        (f"{lo:05d}", f"{hi:05d}"),
        tuple(f"{code}:23456789" for code in codes.split()),
        weight,
        tuple(variants),
    )


US_STATES: Final = {
    "AK": "Alaska",
    "AZ": "Arizona",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "IL": "Illinois",
    "IN": "Indiana",
    "LA": "Louisiana",
    "MA": "Massachusetts",
    "MD": "Maryland",
    "ME": "Maine",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MO": "Missouri",
    "NC": "North Carolina",
    "NE": "Nebraska",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NV": "Nevada",
    "NY": "New York",
    "OH": "Ohio",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "WA": "Washington",
    "WI": "Wisconsin",
}

CITIES: Final[tuple[City, ...]] = (
    _us("New York", "NY", 10001, 10292, "212 646 917", 8.0, "New York City", "NYC"),
    _us("Brooklyn", "NY", 11201, 11256, "718 347 929", 3.0),
    _us("Los Angeles", "CA", 90001, 90089, "213 310 323", 6.0, "LA"),
    _us("Chicago", "IL", 60601, 60661, "312 773 872", 4.5),
    _us("Houston", "TX", 77001, 77099, "713 281 832", 3.5),
    _us("Phoenix", "AZ", 85001, 85054, "602 480", 2.5),
    _us("Philadelphia", "PA", 19102, 19154, "215 267", 2.5, "Phila"),
    _us("San Antonio", "TX", 78201, 78264, "210", 2.0),
    _us("San Diego", "CA", 92101, 92199, "619 858", 2.0),
    _us("Dallas", "TX", 75201, 75398, "214 972 469", 2.0),
    _us("San Jose", "CA", 95110, 95139, "408 669", 1.5),
    _us("Austin", "TX", 78701, 78759, "512 737", 1.5),
    _us("Jacksonville", "FL", 32099, 32277, "904", 1.3),
    _us("Columbus", "OH", 43085, 43235, "614 380", 1.3),
    _us("Charlotte", "NC", 28201, 28299, "704 980", 1.3),
    _us("Indianapolis", "IN", 46201, 46298, "317 463", 1.2),
    _us("San Francisco", "CA", 94102, 94134, "415 628", 1.2, "SF"),
    _us("Seattle", "WA", 98101, 98199, "206", 1.2),
    _us("Denver", "CO", 80201, 80299, "303 720", 1.2),
    _us("Boston", "MA", 2108, 2137, "617 857", 1.0),
    _us("Springfield", "IL", 62701, 62796, "217", 0.4),
    _us("Springfield", "MA", 1101, 1199, "413", 0.4),
    _us("Springfield", "MO", 65801, 65899, "417", 0.4),
    _us("Portland", "OR", 97201, 97299, "503 971", 1.0),
    _us("Portland", "ME", 4101, 4124, "207", 0.3),
    _us("Newark", "NJ", 7101, 7199, "973 862", 0.6),
    _us("Hartford", "CT", 6101, 6199, "860 959", 0.4),
    _us("Atlanta", "GA", 30301, 30399, "404 678 470", 1.5),
    _us("Miami", "FL", 33101, 33199, "305 786", 1.3),
    _us("Minneapolis", "MN", 55401, 55488, "612", 0.9),
    _us("Detroit", "MI", 48201, 48288, "313", 1.0),
    _us("Nashville", "TN", 37201, 37250, "615 629", 0.9),
    _us("Baltimore", "MD", 21201, 21298, "410 443", 0.9),
    _us("Milwaukee", "WI", 53201, 53295, "414", 0.7),
    _us("Albuquerque", "NM", 87101, 87199, "505", 0.6),
    _us("Tucson", "AZ", 85701, 85775, "520", 0.6),
    _us("Sacramento", "CA", 95811, 95899, "916 279", 0.6),
    _us("Kansas City", "MO", 64101, 64199, "816", 0.6),
    _us("Raleigh", "NC", 27601, 27699, "919 984", 0.6),
    _us("Omaha", "NE", 68101, 68198, "402 531", 0.5),
    _us("Cleveland", "OH", 44101, 44199, "216", 0.5),
    _us("New Orleans", "LA", 70112, 70199, "504", 0.5),
    _us("St. Louis", "MO", 63101, 63199, "314", 0.6, "Saint Louis", "St Louis"),
    _us("Salt Lake City", "UT", 84101, 84199, "801 385", 0.5, "SLC"),
    _us("Pittsburgh", "PA", 15201, 15299, "412 878", 0.6),
    _us("Cincinnati", "OH", 45201, 45299, "513", 0.5),
    _us("Las Vegas", "NV", 89101, 89199, "702 725", 0.8),
    _us("Honolulu", "HI", 96801, 96850, "808", 0.3),
    _us("Anchorage", "AK", 99501, 99524, "907", 0.2),
    City(
        "GB",
        "London",
        "Greater London",
        "",
        words("SW1A SW3 SW11 SE1 SE15 E1 E14 E17 N1 N16 NW1 NW3 W1D W2 W8 WC2N EC1A"),
        ("20:378",),
        9.0,
    ),
    City(
        "GB",
        "Manchester",
        "Greater Manchester",
        "",
        words("M1 M4 M14 M20 M21"),
        ("161:2345789",),
        2.0,
    ),
    City(
        "GB",
        "Birmingham",
        "West Midlands",
        "",
        words("B1 B15 B29 B13"),
        ("121:234567",),
        2.0,
    ),
    City("GB", "Leeds", "West Yorkshire", "", words("LS1 LS6 LS8"), ("113:23458",), 1.2),
    City("GB", "Glasgow", "", "", words("G1 G12 G41"), ("141:2345789",), 1.2),
    City("GB", "Edinburgh", "", "", words("EH1 EH3 EH10"), ("131:2345678",), 1.0),
    City("GB", "Bristol", "", "", words("BS1 BS8 BS6"), ("117:2349",), 1.0),
    City("GB", "Liverpool", "Merseyside", "", words("L1 L8 L17"), ("151:2345789",), 1.0),
    City("GB", "Cardiff", "", "", words("CF10 CF24 CF11"), ("29:2",), 0.7),
    City("GB", "Sheffield", "South Yorkshire", "", words("S1 S10 S11"), ("114:2345",), 0.8),
    City(
        "DE",
        "Berlin",
        "Berlin",
        "BE",
        ("10115", "14199"),
        ("30:23456789",),
        4.0,
    ),
    City(
        "DE",
        "München",
        "Bayern",
        "BY",
        ("80331", "81929"),
        ("89:23456789",),
        2.5,
        ("Muenchen", "Munich", "Munchen"),
    ),
    City("DE", "Hamburg", "Hamburg", "HH", ("20095", "22769"), ("40:23456789",), 2.5),
    City(
        "DE",
        "Köln",
        "Nordrhein-Westfalen",
        "NW",
        ("50667", "51149"),
        ("221:23456789",),
        1.8,
        ("Koeln", "Cologne", "Koln"),
    ),
    City(
        "DE",
        "Frankfurt am Main",
        "Hessen",
        "HE",
        ("60306", "60599"),
        ("69:23456789",),
        1.3,
        ("Frankfurt", "Frankfurt a.M.", "Frankfurt/Main"),
    ),
    City(
        "DE",
        "Stuttgart",
        "Baden-Württemberg",
        "BW",
        ("70173", "70619"),
        ("711:23456789",),
        1.0,
    ),
    City(
        "DE",
        "Düsseldorf",
        "Nordrhein-Westfalen",
        "NW",
        ("40210", "40629"),
        ("211:23456789",),
        1.0,
        ("Duesseldorf", "Dusseldorf"),
    ),
    City("DE", "Leipzig", "Sachsen", "SN", ("04103", "04357"), ("341:23456789",), 0.9),
    City("DE", "Dresden", "Sachsen", "SN", ("01067", "01328"), ("351:23456789",), 0.9),
    City(
        "FR",
        "Paris",
        "Île-de-France",
        "IDF",
        tuple(f"750{n:02d}" for n in range(1, 21)),
        ("1:234",),
        5.0,
    ),
    City(
        "FR",
        "Lyon",
        "Auvergne-Rhône-Alpes",
        "ARA",
        tuple(f"6900{n}" for n in range(1, 10)),
        ("4:234",),
        1.5,
    ),
    City(
        "FR",
        "Marseille",
        "Provence-Alpes-Côte d'Azur",
        "PAC",
        tuple(f"130{n:02d}" for n in range(1, 17)),
        ("4:234",),
        1.5,
    ),
    City(
        "FR",
        "Toulouse",
        "Occitanie",
        "OCC",
        ("31000", "31100", "31200", "31300", "31400", "31500"),
        ("5:234",),
        1.0,
    ),
    City(
        "FR",
        "Nice",
        "Provence-Alpes-Côte d'Azur",
        "PAC",
        ("06000", "06100", "06200", "06300"),
        ("4:234",),
        0.8,
    ),
    City(
        "FR",
        "Bordeaux",
        "Nouvelle-Aquitaine",
        "NAQ",
        ("33000", "33100", "33200", "33300", "33800"),
        ("5:234",),
        0.8,
    ),
    City("FR", "Lille", "Hauts-de-France", "HDF", ("59000", "59800"), ("3:234",), 0.7),
    City(
        "FR",
        "Nantes",
        "Pays de la Loire",
        "PDL",
        ("44000", "44100", "44200", "44300"),
        ("2:234",),
        0.7,
    ),
    City("FR", "Strasbourg", "Grand Est", "GES", ("67000", "67100", "67200"), ("3:234",), 0.6),
)

# Mobile prefixes (national, without the trunk 0) and the subscriber length after them.
MOBILE_PREFIXES: Final[dict[str, tuple[tuple[str, int], ...]]] = {
    "GB": tuple((p, 7) for p in words("740 745 750 752 771 777 780 787 795 799")),
    "DE": tuple((p, 8) for p in words("151 152 157 160 170 171 176")),
    "FR": tuple((p, 7) for p in words("61 62 64 65 66 67 68 73 75 77 78")),
}
CALLING_CODES: Final = {"US": "1", "GB": "44", "DE": "49", "FR": "33"}
# Digits in a national (significant) landline number: area code + subscriber.
NATIONAL_LENGTH: Final = {"US": 10, "GB": 10, "DE": 10, "FR": 9}

COUNTRY_NAMES: Final = {
    "US": "United States",
    "GB": "United Kingdom",
    "DE": "Germany",
    "FR": "France",
}
# How systems that let people type a country write it.
COUNTRY_FORMS: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    "US": (("US", 0.45), ("USA", 0.25), ("United States", 0.15), ("U.S.", 0.05), ("us", 0.05),
           ("United States of America", 0.05)),
    "GB": (("GB", 0.35), ("UK", 0.30), ("United Kingdom", 0.20), ("England", 0.10),
           ("Great Britain", 0.05)),
    "DE": (("DE", 0.5), ("Germany", 0.35), ("Deutschland", 0.15)),
    "FR": (("FR", 0.6), ("France", 0.4)),
}  # fmt: skip

# --- streets ---------------------------------------------------------------------------------
US_STREETS: Final = words(
    "Main Oak Maple Cedar Pine Elm Washington Lake Hill Park Sunset Lincoln Jefferson Madison "
    "Franklin Highland Church Spring Ridge River Center Walnut Chestnut Mill Forest Meadow "
    "Willow Jackson Adams Market Broad Union Cherry Birch Lakeview Hickory Dogwood Magnolia "
    "Sycamore Poplar Laurel Juniper Valley Prospect Railroad Grove Orchard Cypress Aspen "
    "Monroe Wilson Harrison Grant Cleveland Kennedy Roosevelt 1st 2nd 3rd 4th 5th "
    "6th 7th 8th 9th 10th 12th 14th Martin_Luther_King_Jr Fairview Woodland Greenwood "
    "Riverside Bayview Ocean Bay Canyon Mountain Summit Vista Rosewood Brookside Lexington "
    "Arlington"
)
# (full, abbreviations...) per US street type; the first abbreviation is USPS's.
US_STREET_TYPES: Final = (
    ("Street", "St", "St.", "Str"),
    ("Avenue", "Ave", "Ave.", "Av"),
    ("Road", "Rd", "Rd."),
    ("Drive", "Dr", "Dr."),
    ("Lane", "Ln", "Ln."),
    ("Boulevard", "Blvd", "Blvd."),
    ("Court", "Ct", "Ct."),
    ("Place", "Pl", "Pl."),
    ("Way", "Way"),
    ("Terrace", "Ter", "Terr"),
    ("Circle", "Cir", "Cir."),
    ("Parkway", "Pkwy", "Pky"),
)
US_STREET_TYPE_WEIGHTS: Final = (30, 20, 14, 10, 8, 4, 5, 3, 3, 1, 1, 1)
DIRECTIONS: Final = (("North", "N"), ("South", "S"), ("East", "E"), ("West", "W"))
# (full, abbreviations...) for units; the first form is the canonical one.
US_UNITS: Final = (
    ("Apartment", "Apt", "Apt.", "#"),
    ("Unit", "Unit", "#"),
    ("Suite", "Ste", "Ste.", "#"),
)

GB_STREETS: Final = words(
    "High Station Church Victoria Green Manor Park Queens Kings King Mill School Grange New "
    "London Albert Windsor York Springfield Highfield Stanley Kingsway Chester Cromwell "
    "Richmond Salisbury Warwick Clarence Cambridge Oxford Beech Holly Elmwood"
)
GB_STREET_TYPES: Final = (
    ("Street", "St", "St."),
    ("Road", "Rd", "Rd."),
    ("Lane", "Ln"),
    ("Avenue", "Ave", "Av."),
    ("Close", "Cl"),
    ("Gardens", "Gdns"),
    ("Crescent", "Cres"),
    ("Drive", "Dr"),
    ("Grove", "Gr"),
    ("Place", "Pl"),
    ("Terrace", "Terr"),
    ("Way", "Way"),
)
GB_STREET_TYPE_WEIGHTS: Final = (25, 30, 10, 8, 6, 4, 4, 4, 3, 2, 2, 2)
GB_UNITS: Final = (("Flat", "Flat", "Fl."), ("Apartment", "Apt", "Apt."))

DE_STREETS: Final = words(
    "Haupt Bahnhof Schul Garten Dorf Berg Linden Kirch Wald Goethe Schiller Friedrich Mozart "
    "Beethoven Sonnen Rosen Birken Eichen Wiesen Mühlen Schloss Markt Feld Buchen Ahorn "
    "Kastanien Tannen Industrie Park Lessing"
)
# (full, abbreviations...): "straße" is written "str.", "strasse", "Strasse".
DE_STREET_TYPES: Final = (
    ("straße", "str.", "strasse", "str"),
    ("weg", "weg"),
    ("allee", "allee"),
    ("platz", "pl."),
    ("gasse", "gasse"),
    ("ring", "ring"),
)
DE_STREET_TYPE_WEIGHTS: Final = (60, 20, 7, 5, 4, 4)

FR_STREETS: Final = words(
    "de_la_République Victor_Hugo Jean_Jaurès Pasteur de_la_Paix du_Général_Leclerc "
    "de_la_Liberté des_Lilas des_Roses Voltaire Gambetta Émile_Zola de_la_Gare du_Moulin "
    "des_Écoles Carnot Nationale du_Château de_Verdun Saint-Michel des_Vignes "
    "Paul_Bert du_Marché Foch Jules_Ferry"
)
# (full, abbreviations...) for French street types, written before the name.
FR_STREET_TYPES: Final = (
    ("rue", "rue", "r."),
    ("avenue", "av.", "ave"),
    ("boulevard", "bd", "boul."),
    ("place", "pl."),
    ("chemin", "ch."),
    ("impasse", "imp."),
    ("allée", "all."),
)
FR_STREET_TYPE_WEIGHTS: Final = (50, 18, 10, 6, 6, 5, 5)
FR_UNITS: Final = (("Appartement", "Appt", "Apt"), ("Bâtiment", "Bât.", "Bat"))

# --- email -----------------------------------------------------------------------------------
EMAIL_DOMAINS: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    "US": (("gmail.com", 0.42), ("yahoo.com", 0.14), ("hotmail.com", 0.08),
           ("outlook.com", 0.08), ("aol.com", 0.05), ("icloud.com", 0.08),
           ("comcast.net", 0.04), ("verizon.net", 0.02), ("att.net", 0.03),
           ("protonmail.com", 0.02), ("msn.com", 0.02), ("me.com", 0.02)),
    "GB": (("gmail.com", 0.35), ("hotmail.co.uk", 0.12), ("yahoo.co.uk", 0.10),
           ("btinternet.com", 0.10), ("outlook.com", 0.10), ("sky.com", 0.06),
           ("icloud.com", 0.07), ("live.co.uk", 0.05), ("virginmedia.com", 0.05)),
    "DE": (("gmail.com", 0.25), ("web.de", 0.22), ("gmx.de", 0.22), ("t-online.de", 0.12),
           ("outlook.de", 0.06), ("yahoo.de", 0.05), ("freenet.de", 0.04), ("posteo.de", 0.04)),
    "FR": (("gmail.com", 0.30), ("orange.fr", 0.20), ("free.fr", 0.12), ("hotmail.fr", 0.10),
           ("laposte.net", 0.08), ("sfr.fr", 0.08), ("yahoo.fr", 0.07), ("wanadoo.fr", 0.05)),
}  # fmt: skip
# Older addresses people have moved away from (a customer's previous email).
LEGACY_DOMAINS: Final = ("aol.com", "hotmail.com", "yahoo.com", "juno.com", "earthlink.net")
# Providers that deliver "user+tag@" to "user@".
PLUS_TAG_DOMAINS: Final = frozenset(
    ("gmail.com", "outlook.com", "hotmail.com", "icloud.com", "protonmail.com", "me.com",
     "outlook.de", "hotmail.co.uk", "hotmail.fr", "posteo.de", "fastmail.com")
)  # fmt: skip
PLUS_TAGS: Final = ("shop", "news", "orders", "spam", "promo", "amazon", "2019", "web")
# How people mistype well-known domains.
DOMAIN_TYPOS: Final[dict[str, tuple[str, ...]]] = {
    "gmail.com": ("gmial.com", "gmail.co", "gmai.com", "gmail.con", "gnail.com", "gmaill.com"),
    "yahoo.com": ("yaho.com", "yahooo.com", "yahoo.co", "yhoo.com"),
    "hotmail.com": ("hotmial.com", "hotmail.co", "hotmal.com", "hotmail.con"),
    "outlook.com": ("outlok.com", "outlook.co", "outloo.com"),
    "aol.com": ("aol.co", "aoll.com"),
    "icloud.com": ("iclod.com", "icloud.co", "icoud.com"),
}

# Keys next to each other on a QWERTY keyboard (for "fat finger" substitutions).
KEYBOARD_NEIGHBOURS: Final[dict[str, str]] = {
    "q": "wa", "w": "qeas", "e": "wrds", "r": "etdf", "t": "ryfg", "y": "tugh", "u": "yihj",
    "i": "uojk", "o": "ipkl", "p": "ol", "a": "qwsz", "s": "awedxz", "d": "serfcx",
    "f": "drtgvc", "g": "ftyhbv", "h": "gyujnb", "j": "huikmn", "k": "jiolm", "l": "kop",
    "z": "asx", "x": "zsdc", "c": "xdfv", "v": "cfgb", "b": "vghn", "n": "bhjm", "m": "njk",
    "1": "2q", "2": "13w", "3": "24e", "4": "35r", "5": "46t", "6": "57y", "7": "68u",
    "8": "79i", "9": "80o", "0": "9p",
}  # fmt: skip
