#include "nat_data.h"

#include <array>

namespace millrace::source {
namespace {

using sv = std::string_view;

// Nationality tables. Each block: male first names, female first names, last
// names, street names, (city, state) pairs.

constexpr sv au_m[] = {"Jack", "Oliver", "Lachlan", "Cooper", "Riley", "Mason", "Harrison", "Noah"};
constexpr sv au_f[] = {"Charlotte", "Mia", "Chloe", "Ruby", "Isla", "Matilda", "Zoe", "Grace"};
constexpr sv au_l[] = {"Smith", "Jones", "Williams", "Brown", "Wilson", "Taylor", "Kelly", "Martin"};
constexpr sv au_s[] = {"Parramatta Rd", "Lakeshore Dr", "Hunter St", "Wattle Ave", "Bay Rd", "Elizabeth St"};
constexpr place au_p[] = {{"Sydney", "New South Wales"}, {"Melbourne", "Victoria"}, {"Brisbane", "Queensland"},
                          {"Perth", "Western Australia"}, {"Adelaide", "South Australia"}, {"Hobart", "Tasmania"}};

constexpr sv br_m[] = {"Thiago", "Lucas", "Gabriel", "Rafael", "Matheus", "Pedro", "Caio", "Vinícius"};
constexpr sv br_f[] = {"Ana", "Beatriz", "Larissa", "Juliana", "Camila", "Fernanda", "Lívia", "Mariana"};
constexpr sv br_l[] = {"Silva", "Santos", "Oliveira", "Souza", "Pereira", "Costa", "Rodrigues", "Almeida"};
constexpr sv br_s[] = {"Rua Dois", "Rua São Jorge", "Avenida Brasil", "Rua Sete de Setembro", "Rua das Flores", "Rua Um"};
constexpr place br_p[] = {{"São Paulo", "São Paulo"}, {"Curitiba", "Paraná"}, {"Salvador", "Bahia"},
                          {"Recife", "Pernambuco"}, {"Belo Horizonte", "Minas Gerais"}, {"Manaus", "Amazonas"}};

constexpr sv ca_m[] = {"Liam", "Ethan", "Logan", "Nathan", "Félix", "Owen", "Jacob", "William"};
constexpr sv ca_f[] = {"Emma", "Olivia", "Léa", "Chloé", "Ava", "Sophie", "Maya", "Abigail"};
constexpr sv ca_l[] = {"Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Wong", "Campbell", "MacDonald"};
constexpr sv ca_s[] = {"Maple Ave", "King St", "Rue Principale", "Dundas St", "Peel St", "Oak Ridge Dr"};
constexpr place ca_p[] = {{"Toronto", "Ontario"}, {"Montréal", "Québec"}, {"Vancouver", "British Columbia"},
                          {"Calgary", "Alberta"}, {"Halifax", "Nova Scotia"}, {"Regina", "Saskatchewan"}};

constexpr sv ch_m[] = {"Luca", "Noah", "Jonas", "Matteo", "Yannick", "Luis", "Marco", "Samuel"};
constexpr sv ch_f[] = {"Lara", "Mia", "Elena", "Alina", "Léonie", "Nina", "Chiara", "Anja"};
constexpr sv ch_l[] = {"Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Fontana", "Rochat"};
constexpr sv ch_s[] = {"Bahnhofstrasse", "Rue du Lac", "Via Cantonale", "Dorfstrasse", "Kirchweg", "Chemin des Vignes"};
constexpr place ch_p[] = {{"Zürich", "Zürich"}, {"Genève", "Genève"}, {"Bern", "Bern"},
                          {"Lugano", "Ticino"}, {"Luzern", "Luzern"}, {"Sion", "Valais"}};

constexpr sv de_m[] = {"Lukas", "Jonas", "Finn", "Felix", "Maximilian", "Jürgen", "Tobias", "Stefan"};
constexpr sv de_f[] = {"Hannah", "Lea", "Sophie", "Katrin", "Anke", "Jana", "Ursula", "Marie"};
constexpr sv de_l[] = {"Müller", "Schmidt", "Schneider", "Fischer", "Wagner", "Becker", "Hoffmann", "Krüger"};
constexpr sv de_s[] = {"Hauptstraße", "Schulstraße", "Gartenweg", "Lindenallee", "Birkenweg", "Am Markt"};
constexpr place de_p[] = {{"Berlin", "Berlin"}, {"München", "Bayern"}, {"Hamburg", "Hamburg"},
                          {"Köln", "Nordrhein-Westfalen"}, {"Leipzig", "Sachsen"}, {"Kiel", "Schleswig-Holstein"}};

constexpr sv dk_m[] = {"Mads", "Frederik", "Oliver", "Magnus", "Rasmus", "Emil", "Søren", "Kasper"};
constexpr sv dk_f[] = {"Ida", "Freja", "Sofie", "Mathilde", "Caroline", "Signe", "Astrid", "Laura"};
constexpr sv dk_l[] = {"Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Larsen", "Sørensen", "Rasmussen"};
constexpr sv dk_s[] = {"Vestergade", "Nørregade", "Skovvej", "Strandvejen", "Kirkevej", "Engtoften"};
constexpr place dk_p[] = {{"København", "Hovedstaden"}, {"Aarhus", "Midtjylland"}, {"Odense", "Syddanmark"},
                          {"Aalborg", "Nordjylland"}, {"Roskilde", "Sjælland"}, {"Esbjerg", "Syddanmark"}};

constexpr sv es_m[] = {"Hugo", "Pablo", "Alejandro", "Javier", "Daniel", "Sergio", "Álvaro", "Mario"};
constexpr sv es_f[] = {"Lucía", "María", "Paula", "Carmen", "Elena", "Sara", "Nerea", "Alba"};
constexpr sv es_l[] = {"García", "Fernández", "González", "Rodríguez", "López", "Martín", "Sánchez", "Pérez"};
constexpr sv es_s[] = {"Calle Mayor", "Avenida de la Paz", "Calle del Sol", "Paseo de Gracia", "Calle Real", "Calle Nueva"};
constexpr place es_p[] = {{"Madrid", "Comunidad de Madrid"}, {"Barcelona", "Cataluña"}, {"Sevilla", "Andalucía"},
                          {"Valencia", "Comunidad Valenciana"}, {"Bilbao", "País Vasco"}, {"Zaragoza", "Aragón"}};

constexpr sv fi_m[] = {"Eetu", "Aleksi", "Juho", "Ville", "Onni", "Veeti", "Lauri", "Matti"};
constexpr sv fi_f[] = {"Aino", "Emilia", "Siiri", "Venla", "Helmi", "Iida", "Anni", "Pihla"};
constexpr sv fi_l[] = {"Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen"};
constexpr sv fi_s[] = {"Hämeenkatu", "Mannerheimintie", "Pispalan Valtatie", "Rautatienkatu", "Satakunnankatu", "Koulukatu"};
constexpr place fi_p[] = {{"Helsinki", "Uusimaa"}, {"Tampere", "Pirkanmaa"}, {"Turku", "Varsinais-Suomi"},
                          {"Oulu", "Pohjois-Pohjanmaa"}, {"Kuopio", "Pohjois-Savo"}, {"Vaasa", "Pohjanmaa"}};

constexpr sv fr_m[] = {"Lucas", "Hugo", "Théo", "Nathan", "Louis", "Mathis", "Enzo", "Gabriel"};
constexpr sv fr_f[] = {"Camille", "Manon", "Chloé", "Inès", "Léa", "Jade", "Louise", "Élise"};
constexpr sv fr_l[] = {"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Lefèvre"};
constexpr sv fr_s[] = {"Rue de la République", "Avenue Jean-Jaurès", "Rue Victor-Hugo", "Place du Marché",
                       "Rue des Écoles", "Boulevard Pasteur"};
constexpr place fr_p[] = {{"Paris", "Île-de-France"}, {"Lyon", "Rhône"}, {"Marseille", "Bouches-du-Rhône"},
                          {"Toulouse", "Haute-Garonne"}, {"Nantes", "Loire-Atlantique"}, {"Lille", "Nord"}};

constexpr sv gb_m[] = {"Harry", "George", "Jack", "Alfie", "Charlie", "Thomas", "Oscar", "Callum"};
constexpr sv gb_f[] = {"Amelia", "Olivia", "Emily", "Isabel", "Poppy", "Jessica", "Lily", "Eleanor"};
constexpr sv gb_l[] = {"Smith", "Jones", "Taylor", "Davies", "Evans", "Walker", "Wright", "Hughes"};
constexpr sv gb_s[] = {"High Street", "Church Lane", "Station Road", "Victoria Road", "Mill Lane", "The Green"};
constexpr place gb_p[] = {{"Manchester", "Greater Manchester"}, {"Leeds", "West Yorkshire"}, {"Bristol", "Avon"},
                          {"Cardiff", "South Glamorgan"}, {"Norwich", "Norfolk"}, {"Aberdeen", "Grampian"}};

constexpr sv ie_m[] = {"Seán", "Conor", "Cian", "Darragh", "Oisín", "Liam", "Patrick", "Eoin"};
constexpr sv ie_f[] = {"Aoife", "Niamh", "Ciara", "Saoirse", "Róisín", "Emma", "Siobhán", "Orla"};
constexpr sv ie_l[] = {"Murphy", "Kelly", "O'Sullivan", "Walsh", "Byrne", "Ryan", "O'Brien", "Doyle"};
constexpr sv ie_s[] = {"Main Street", "Church Road", "Grafton Street", "Patrick Street", "Strand Road", "Mill Road"};
constexpr place ie_p[] = {{"Dublin", "Dublin"}, {"Cork", "Cork"}, {"Galway", "Galway"},
                          {"Limerick", "Limerick"}, {"Waterford", "Waterford"}, {"Sligo", "Sligo"}};

constexpr sv in_m[] = {"Aarav", "Vihaan", "Arjun", "Rohan", "Kabir", "Ishaan", "Aditya", "Rahul"};
constexpr sv in_f[] = {"Aanya", "Diya", "Priya", "Ananya", "Kavya", "Meera", "Ishita", "Saanvi"};
constexpr sv in_l[] = {"Sharma", "Patel", "Reddy", "Iyer", "Nair", "Gupta", "Singh", "Kulkarni"};
constexpr sv in_s[] = {"MG Road", "Station Road", "Nehru Nagar", "Gandhi Marg", "Park Street", "Lake View Road"};
constexpr place in_p[] = {{"Mumbai", "Maharashtra"}, {"Bengaluru", "Karnataka"}, {"Chennai", "Tamil Nadu"},
                          {"Kolkata", "West Bengal"}, {"Jaipur", "Rajasthan"}, {"Kochi", "Kerala"}};

constexpr sv ir_m[] = {"امیر", "علی", "رضا", "محمد", "حسین", "مهدی", "آرمان", "سینا"};
constexpr sv ir_f[] = {"زهرا", "فاطمه", "سارا", "مریم", "نگار", "یاسمن", "پریا", "هستی"};
constexpr sv ir_l[] = {"احمدی", "محمدی", "رضایی", "حسینی", "کریمی", "موسوی", "جعفری", "صادقی"};
constexpr sv ir_s[] = {"شهید بهشتی", "آزادی", "ولیعصر", "انقلاب", "امام خمینی", "طالقانی"};
constexpr place ir_p[] = {{"تهران", "تهران"}, {"مشهد", "خراسان رضوی"}, {"اصفهان", "اصفهان"},
                          {"شیراز", "فارس"}, {"تبریز", "آذربایجان شرقی"}, {"رشت", "گیلان"}};

constexpr sv mx_m[] = {"Santiago", "Mateo", "Diego", "Emiliano", "Leonardo", "Iker", "Joaquín", "Arturo"};
constexpr sv mx_f[] = {"Sofía", "Valentina", "Regina", "Ximena", "Camila", "Renata", "Guadalupe", "Fernanda"};
constexpr sv mx_l[] = {"Hernández", "García", "Martínez", "López", "González", "Ramírez", "Flores", "Cruz"};
constexpr sv mx_s[] = {"Avenida Juárez", "Calle Hidalgo", "Avenida Reforma", "Calle Morelos", "Privada Zaragoza", "Calle Allende"};
constexpr place mx_p[] = {{"Guadalajara", "Jalisco"}, {"Monterrey", "Nuevo León"}, {"Puebla", "Puebla"},
                          {"Mérida", "Yucatán"}, {"Oaxaca", "Oaxaca"}, {"Tijuana", "Baja California"}};

constexpr sv nl_m[] = {"Daan", "Sem", "Lucas", "Bram", "Jesse", "Thijs", "Ruben", "Joris"};
constexpr sv nl_f[] = {"Emma", "Julia", "Sanne", "Fleur", "Lotte", "Anouk", "Femke", "Noor"};
constexpr sv nl_l[] = {"de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer"};
constexpr sv nl_s[] = {"Kerkstraat", "Dorpsstraat", "Molenweg", "Stationsweg", "Prinsengracht", "Schoolstraat"};
constexpr place nl_p[] = {{"Amsterdam", "Noord-Holland"}, {"Utrecht", "Utrecht"}, {"Groningen", "Groningen"},
                          {"Eindhoven", "Noord-Brabant"}, {"Zwolle", "Overijssel"}, {"Leiden", "Zuid-Holland"}};

constexpr sv no_m[] = {"Jakob", "Emil", "Henrik", "Sander", "Magnus", "Aksel", "Håkon", "Even"};
constexpr sv no_f[] = {"Nora", "Ingrid", "Sara", "Thea", "Maja", "Solveig", "Ingeborg", "Hedda"};
constexpr sv no_l[] = {"Hansen", "Johansen", "Olsen", "Larsen", "Berg", "Haugen", "Bakken", "Solberg"};
constexpr sv no_s[] = {"Storgata", "Kirkeveien", "Skolegata", "Fjellveien", "Strandgata", "Bryggen"};
constexpr place no_p[] = {{"Oslo", "Oslo"}, {"Bergen", "Vestland"}, {"Trondheim", "Trøndelag"},
                          {"Stavanger", "Rogaland"}, {"Tromsø", "Troms"}, {"Bodø", "Nordland"}};

constexpr sv nz_m[] = {"Oliver", "Nikau", "Hunter", "Tama", "Lucas", "Flynn", "Ari", "Hamish"};
constexpr sv nz_f[] = {"Isla", "Aroha", "Ruby", "Mia", "Kaia", "Harper", "Ana", "Maia"};
constexpr sv nz_l[] = {"Smith", "Wilson", "Thompson", "Ngata", "Walker", "Campbell", "Parata", "Anderson"};
constexpr sv nz_s[] = {"Queen Street", "Cuba Street", "Ponsonby Road", "Great North Road", "Beach Road", "Kōwhai Street"};
constexpr place nz_p[] = {{"Auckland", "Auckland"}, {"Wellington", "Wellington"}, {"Christchurch", "Canterbury"},
                          {"Hamilton", "Waikato"}, {"Dunedin", "Otago"}, {"Napier", "Hawke's Bay"}};

constexpr sv rs_m[] = {"Nikola", "Luka", "Stefan", "Marko", "Miloš", "Dušan", "Vuk", "Petar"};
constexpr sv rs_f[] = {"Milica", "Jovana", "Ana", "Teodora", "Jelena", "Katarina", "Sara", "Dragana"};
constexpr sv rs_l[] = {"Jovanović", "Petrović", "Nikolić", "Marković", "Đorđević", "Stojanović", "Ilić", "Pavlović"};
constexpr sv rs_s[] = {"Knez Mihailova", "Bulevar oslobođenja", "Njegoševa", "Cara Dušana", "Vojvode Stepe", "Nemanjina"};
constexpr place rs_p[] = {{"Beograd", "Beograd"}, {"Novi Sad", "Južnobački"}, {"Niš", "Nišavski"},
                          {"Kragujevac", "Šumadijski"}, {"Subotica", "Severnobački"}, {"Čačak", "Moravički"}};

constexpr sv tr_m[] = {"Emre", "Mehmet", "Burak", "Can", "Yusuf", "Ömer", "Kerem", "Oğuz"};
constexpr sv tr_f[] = {"Elif", "Zeynep", "Ayşe", "Defne", "Ebru", "Selin", "Merve", "Gül"};
constexpr sv tr_l[] = {"Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Öztürk", "Aydın"};
constexpr sv tr_s[] = {"Atatürk Cd", "İstiklal Cd", "Cumhuriyet Cd", "Bağdat Cd", "Kızılay Sk", "Fatih Sk"};
constexpr place tr_p[] = {{"İstanbul", "İstanbul"}, {"Ankara", "Ankara"}, {"İzmir", "İzmir"},
                          {"Bursa", "Bursa"}, {"Antalya", "Antalya"}, {"Trabzon", "Trabzon"}};

constexpr sv ua_m[] = {"Олександр", "Андрій", "Богдан", "Тарас", "Дмитро", "Максим", "Остап", "Юрій"};
constexpr sv ua_f[] = {"Олена", "Оксана", "Ганна", "Марія", "Софія", "Ірина", "Дарина", "Леся"};
constexpr sv ua_l[] = {"Шевченко", "Коваленко", "Бондаренко", "Ткаченко", "Мельник", "Кравченко", "Бойко", "Олійник"};
constexpr sv ua_s[] = {"Хрещатик", "Шевченка", "Лесі Українки", "Франка", "Садова", "Соборна"};
constexpr place ua_p[] = {{"Київ", "Київська"}, {"Львів", "Львівська"}, {"Одеса", "Одеська"},
                          {"Харків", "Харківська"}, {"Дніпро", "Дніпропетровська"}, {"Полтава", "Полтавська"}};

constexpr sv us_m[] = {"James", "Michael", "Ethan", "Tyler", "Brandon", "Dustin", "Wyatt", "Carter"};
constexpr sv us_f[] = {"Emily", "Madison", "Ashley", "Brooke", "Kayla", "Savannah", "Hailey", "Megan"};
constexpr sv us_l[] = {"Johnson", "Miller", "Davis", "Garcia", "Rodriguez", "Anderson", "Thompson", "Reed"};
constexpr sv us_s[] = {"Main St", "Oak Ridge Ln", "Pecan Acres Ln", "Sunset Blvd", "Elm St", "Hickory Creek Dr"};
constexpr place us_p[] = {{"Austin", "Texas"}, {"Dayton", "Ohio"}, {"Fresno", "California"},
                          {"Tucson", "Arizona"}, {"Boise", "Idaho"}, {"Savannah", "Georgia"}};

#define MILLRACE_NAT_LISTS(p) p##_m, p##_f, p##_l, p##_s, p##_p

constexpr nationality k_nationalities[] = {
    {"AU", "Australia", MILLRACE_NAT_LISTS(au), "####", false, "0#-####-####", "04##-###-###", "TFN", "#########"},
    {"BR", "Brazil", MILLRACE_NAT_LISTS(br), "#####", false, "(##) ####-####", "(##) #####-####", "CPF", "###.###.###-##"},
    {"CA", "Canada", MILLRACE_NAT_LISTS(ca), "A#A #A#", true, "###-###-####", "###-###-####", "SIN", "### ### ###"},
    {"CH", "Switzerland", MILLRACE_NAT_LISTS(ch), "####", false, "0## ### ## ##", "07# ### ## ##", "AVS", "756.####.####.##"},
    {"DE", "Germany", MILLRACE_NAT_LISTS(de), "#####", false, "0###-#######", "01##-#######", "SVNR", "## ###### A ###"},
    {"DK", "Denmark", MILLRACE_NAT_LISTS(dk), "####", false, "########", "########", "CPR", "######-####"},
    {"ES", "Spain", MILLRACE_NAT_LISTS(es), "#####", false, "9##-###-###", "6##-###-###", "DNI", "########-A"},
    {"FI", "Finland", MILLRACE_NAT_LISTS(fi), "#####", false, "0#-###-###", "04#-###-##-##", "HETU", "######-###A"},
    {"FR", "France", MILLRACE_NAT_LISTS(fr), "#####", false, "0#-##-##-##-##", "06-##-##-##-##", "INSEE", "# ## ## ## ### ### ##"},
    {"GB", "United Kingdom", MILLRACE_NAT_LISTS(gb), "A# #AA", true, "01### ######", "07### ######", "NINO", "AA ## ## ## A"},
    {"IE", "Ireland", MILLRACE_NAT_LISTS(ie), "A## A#A#", true, "0#-###-####", "08#-###-####", "PPS", "#######A"},
    {"IN", "India", MILLRACE_NAT_LISTS(in), "######", false, "#####-#####", "9#########", "UIDAI", "############"},
    {"IR", "Iran", MILLRACE_NAT_LISTS(ir), "#####", false, "0##-########", "09##-###-####", "", ""},
    {"MX", "Mexico", MILLRACE_NAT_LISTS(mx), "#####", false, "(6##) ### ####", "(6##) ### ####", "NSS", "## ## ## ####-#"},
    {"NL", "Netherlands", MILLRACE_NAT_LISTS(nl), "#### AA", true, "(0##) #######", "(06) ########", "BSN", "#########"},
    {"NO", "Norway", MILLRACE_NAT_LISTS(no), "####", false, "########", "4#######", "FN", "###########"},
    {"NZ", "New Zealand", MILLRACE_NAT_LISTS(nz), "####", false, "(###)-###-####", "(###)-###-####", "", ""},
    {"RS", "Serbia", MILLRACE_NAT_LISTS(rs), "#####", false, "0##-####-###", "06#-####-###", "SID", "#########"},
    {"TR", "Turkey", MILLRACE_NAT_LISTS(tr), "#####", false, "(###)-###-####", "(###)-###-####", "", ""},
    {"UA", "Ukraine", MILLRACE_NAT_LISTS(ua), "#####", false, "(0##) A##-####", "(09#) A##-####", "", ""},
    {"US", "United States", MILLRACE_NAT_LISTS(us), "#####", false, "(###) ###-####", "(###) ###-####", "SSN", "###-##-####"},
};

#undef MILLRACE_NAT_LISTS

constexpr timezone_entry k_timezones[] = {
    {"-12:00", "Eniwetok, Kwajalein"}, {"-10:00", "Hawaii"}, {"-9:00", "Alaska"},
    {"-8:00", "Pacific Time (US & Canada)"}, {"-7:00", "Mountain Time (US & Canada)"},
    {"-6:00", "Central Time (US & Canada), Mexico City"}, {"-5:00", "Eastern Time (US & Canada), Bogota, Lima"},
    {"-3:00", "Brazil, Buenos Aires, Georgetown"}, {"-1:00", "Azores, Cape Verde Islands"},
    {"0:00", "Western Europe Time, London, Lisbon, Casablanca"}, {"+1:00", "Brussels, Copenhagen, Madrid, Paris"},
    {"+2:00", "Kaliningrad, South Africa"}, {"+3:00", "Baghdad, Riyadh, Moscow, St. Petersburg"},
    {"+3:30", "Tehran"}, {"+4:00", "Abu Dhabi, Muscat, Baku, Tbilisi"}, {"+5:30", "Bombay, Calcutta, Madras, New Delhi"},
    {"+7:00", "Bangkok, Hanoi, Jakarta"}, {"+8:00", "Beijing, Perth, Singapore, Hong Kong"},
    {"+9:00", "Tokyo, Seoul, Osaka, Sapporo, Yakutsk"}, {"+9:30", "Adelaide, Darwin"},
    {"+10:00", "Eastern Australia, Guam, Vladivostok"}, {"+12:00", "Auckland, Wellington, Fiji, Kamchatka"},
};

constexpr sv k_passwords[] = {"sunshine", "dragon", "letmein", "monkey", "shadow", "baseball", "freedom",
                              "whatever", "trustno1", "qwerty", "falcon", "marina", "pepper", "raptor",
                              "snoopy", "tigger", "voyager", "zxcvbn", "lollipop", "matrix"};

// Usernames are <adjective><animal><3 digits>: two lists in one, adjectives first.
constexpr sv k_username_words[] = {"happy", "silver", "brown", "lazy", "crazy", "tiny", "golden", "purple",
                                   "heavy", "angry", "koala", "panda", "tiger", "swan", "rabbit", "bear",
                                   "goose", "wolf", "lion", "frog"};

}  // namespace

std::span<const nationality> nationalities() { return k_nationalities; }
std::span<const timezone_entry> timezones() { return k_timezones; }
std::span<const std::string_view> passwords() { return k_passwords; }
std::span<const std::string_view> username_words() { return k_username_words; }

int find_nationality(std::string_view code) {
    if (code.size() != 2) return -1;
    auto upper = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; };
    for (size_t idx = 0; idx < std::size(k_nationalities); ++idx) {
        const auto& nat = k_nationalities[idx].code;
        if (nat[0] == upper(code[0]) && nat[1] == upper(code[1])) return static_cast<int>(idx);
    }
    return -1;
}

}  // namespace millrace::source
