"""Fixed word lists the corpus generators draw from (names, places, things, verbs)."""

FIRST_NAMES = (
    "Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Isabel", "Jack",
    "Karen", "Liam", "Mia", "Noah", "Olivia", "Peter", "Quinn", "Rosa", "Sam", "Tina",
    "Uma", "Victor", "Wendy", "Xavier", "Yara", "Zoe", "Lily", "Tom", "Anna", "Ben",
    "Chloe", "Daniel", "Ella", "Felix", "Hannah", "Ivan", "Julia", "Kevin", "Laura", "Max",
    "Nina", "Oscar", "Paula", "Ravi", "Sofia", "Theo", "Maya", "Leo", "Aisha", "Omar",
    "José", "Zoë", "Renée", "Björn", "Chen", "Yuki", "Priya", "Mateo", "Amir", "Elena",
)

FEMININE_NAMES = frozenset((
    "Alice", "Carol", "Emma", "Grace", "Isabel", "Karen", "Mia", "Olivia", "Rosa", "Tina", "Uma",
    "Wendy", "Yara", "Zoe", "Lily", "Anna", "Chloe", "Ella", "Hannah", "Julia", "Laura", "Nina",
    "Paula", "Sofia", "Maya", "Aisha", "Zoë", "Renée", "Yuki", "Priya", "Elena", "Quinn",
))

LAST_NAMES = (
    "Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Moore", "Taylor",
    "Anderson", "Thomas", "Jackson", "White", "Harris", "Martin", "Thompson", "Lee", "Clark",
    "Lewis", "Walker", "Hall", "Young", "King", "Wright", "Lopez", "Hill", "Scott", "Green",
    "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Perez", "Roberts", "Turner", "Müller",
    "Novak", "Silva", "Kim", "Nguyen", "Patel", "Rossi", "Dubois", "Kowalski", "Tanaka",
)

CITIES = (
    ("Paris", "France"), ("London", "United Kingdom"), ("Berlin", "Germany"),
    ("Madrid", "Spain"), ("Rome", "Italy"), ("Lisbon", "Portugal"), ("Vienna", "Austria"),
    ("Tokyo", "Japan"), ("Osaka", "Japan"), ("Seoul", "South Korea"), ("Beijing", "China"),
    ("Mumbai", "India"), ("Delhi", "India"), ("Cairo", "Egypt"), ("Lagos", "Nigeria"),
    ("Nairobi", "Kenya"), ("Toronto", "Canada"), ("Vancouver", "Canada"),
    ("New York", "United States"), ("Chicago", "United States"), ("Boston", "United States"),
    ("Austin", "United States"), ("Seattle", "United States"), ("Mexico City", "Mexico"),
    ("Lima", "Peru"), ("Bogotá", "Colombia"), ("São Paulo", "Brazil"), ("Sydney", "Australia"),
    ("Melbourne", "Australia"), ("Auckland", "New Zealand"), ("Oslo", "Norway"),
    ("Stockholm", "Sweden"), ("Helsinki", "Finland"), ("Warsaw", "Poland"), ("Prague", "Czechia"),
    ("Dublin", "Ireland"), ("Athens", "Greece"), ("Istanbul", "Turkey"), ("Zürich", "Switzerland"),
)

CAPITALS = (
    ("France", "Paris"), ("Germany", "Berlin"), ("Spain", "Madrid"), ("Italy", "Rome"),
    ("Portugal", "Lisbon"), ("Austria", "Vienna"), ("Japan", "Tokyo"), ("South Korea", "Seoul"),
    ("China", "Beijing"), ("India", "New Delhi"), ("Egypt", "Cairo"), ("Kenya", "Nairobi"),
    ("Canada", "Ottawa"), ("Mexico", "Mexico City"), ("Peru", "Lima"), ("Brazil", "Brasília"),
    ("Australia", "Canberra"), ("Norway", "Oslo"), ("Sweden", "Stockholm"),
    ("Finland", "Helsinki"), ("Poland", "Warsaw"), ("Ireland", "Dublin"), ("Greece", "Athens"),
    ("Argentina", "Buenos Aires"), ("Chile", "Santiago"), ("Nigeria", "Abuja"),
    ("Turkey", "Ankara"), ("Switzerland", "Bern"), ("Netherlands", "Amsterdam"),
    ("Belgium", "Brussels"), ("Denmark", "Copenhagen"), ("United Kingdom", "London"),
)

STREETS = ("Main St", "Oak Ave", "Maple Rd", "Pine St", "Cedar Ln", "Elm St", "Lake Dr",
           "Hill Rd", "River Rd", "Park Ave", "Station Rd", "High St", "Church St", "Mill Ln")

EMAIL_DOMAINS = ("example.com", "mail.com", "inbox.org", "post.net", "company.io", "school.edu")

JOBS = ("engineer", "teacher", "doctor", "nurse", "designer", "writer", "chef", "pilot",
        "lawyer", "farmer", "artist", "student", "manager", "scientist", "driver", "baker",
        "musician", "accountant", "developer", "librarian")

HOBBIES = ("reading", "chess", "hiking", "cooking", "painting", "running", "swimming",
           "gardening", "music", "travel", "cycling", "photography", "dancing", "fishing",
           "yoga", "tennis", "knitting", "climbing")

COLORS = ("red", "blue", "green", "yellow", "black", "white", "orange", "purple", "pink",
          "gray", "brown", "silver", "gold")

PRODUCT_NOUNS = ("lamp", "chair", "table", "phone", "laptop", "backpack", "bottle", "watch",
                 "camera", "keyboard", "mouse", "headphones", "jacket", "shoes", "mug",
                 "notebook", "pen", "bicycle", "tent", "blender", "kettle", "pillow",
                 "sofa", "monitor", "speaker", "charger", "umbrella", "wallet")

PRODUCT_ADJECTIVES = ("classic", "modern", "compact", "portable", "wireless", "smart",
                      "premium", "basic", "deluxe", "eco", "ultra", "mini", "pro", "vintage")

CATEGORIES = ("electronics", "furniture", "kitchen", "clothing", "sports", "books", "toys",
              "garden", "office", "outdoor", "beauty", "music", "travel")

BRANDS = ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay",
          "Contoso", "Northwind", "Tailspin", "Fabrikam")

EVENT_KINDS = ("concert", "conference", "workshop", "meetup", "festival", "lecture",
               "exhibition", "match", "wedding", "party", "webinar", "marathon")

EVENT_TOPICS = ("jazz", "machine learning", "gardening", "photography", "robotics",
                "poetry", "cooking", "climate", "startups", "chess", "film", "history")

ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "returned")

CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CAD")

BOOK_TITLES = ("The Silent River", "A Winter Garden", "Stars Over Lima", "The Last Letter",
               "Small Gods of Paris", "The Glass Orchard", "Night Train", "Paper Kingdoms",
               "The Blue Door", "Salt and Stone", "Echoes", "The Clockmaker")

GENRES = ("fiction", "mystery", "fantasy", "science fiction", "history", "biography",
          "poetry", "romance", "thriller", "travel")

ANIMALS = ("fox", "rabbit", "bear", "owl", "cat", "dog", "mouse", "turtle", "duck", "deer",
           "squirrel", "frog", "lion", "horse", "goat", "wolf", "bird", "fish")

ANIMAL_ADJECTIVES = ("little", "brave", "curious", "sleepy", "happy", "tiny", "clever",
                     "shy", "friendly", "old", "young", "kind", "lazy", "busy")

PLACES = ("a small village", "a big forest", "a quiet town", "an old castle", "a green valley",
          "a busy city", "a sunny farm", "a tall mountain", "a blue lake", "a sandy beach")

COUNTABLE_THINGS = ("apples", "oranges", "pencils", "books", "marbles", "cookies", "stickers",
                    "cards", "flowers", "coins", "eggs", "balloons", "stamps", "candies",
                    "shells", "toys", "cupcakes", "bananas")

CONTAINERS = ("box", "bag", "basket", "jar", "crate", "pack", "tray", "shelf")

PROSE_NOUNS = ("dog", "cat", "child", "teacher", "farmer", "bird", "river", "tree", "wind",
               "girl", "boy", "king", "queen", "baker", "sailor", "train", "storm", "moon",
               "garden", "friend", "doctor", "student", "painter", "robot")

PROSE_ADJECTIVES = ("old", "young", "small", "big", "quiet", "loud", "bright", "dark",
                    "happy", "sad", "gentle", "wild", "tired", "brave", "warm", "cold",
                    "green", "golden", "strange", "patient")

TRANSITIVE_VERBS = ("found", "saw", "carried", "painted", "followed", "watched", "opened",
                    "built", "lost", "cleaned", "visited", "helped", "chased", "called",
                    "heard", "liked", "fixed", "wrote", "read", "shared")

INTRANSITIVE_VERBS = ("slept", "laughed", "waited", "sang", "smiled", "ran", "danced",
                      "rested", "listened", "walked", "jumped", "cried", "worked", "played")

ADVERBS = ("quickly", "slowly", "quietly", "happily", "carefully", "suddenly", "softly",
           "again", "together", "early", "late", "often")

PREPOSITIONS = ("in", "near", "under", "behind", "beside", "across", "inside", "around")

OBJECT_NOUNS = ("ball", "book", "box", "door", "window", "letter", "garden", "bridge",
                "river", "house", "map", "song", "boat", "hat", "key", "lamp", "road", "park")
