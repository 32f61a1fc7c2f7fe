// Passwords seen most often in public breach lists (lower-cased). A password
// is refused when it, or its letters without trailing digits and symbols,
// is one of these.
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set(
  `123456 123456789 12345678 12345 1234567 1234567890 123123 111111 000000 654321 666666 121212 112233
  123321 987654321 1q2w3e4r 1q2w3e4r5t 1qaz2wsx qwerty qwerty123 qwertyuiop qwe123 asdfgh asdfghjkl zxcvbnm
  zxcvbn azerty password passw0rd p@ssw0rd p@ssword password1 password12 password123 passwort motdepasse
  contrasena senha parola wachtwoord admin administrator root toor letmein welcome welcome1 login guest
  changeme secret master hello iloveyou trustno1 monkey dragon baseball football soccer hockey basketball
  superman batman princess sunshine shadow michael jennifer jordan hunter ranger buster thomas robert
  charlie daniel jessica ashley andrew joshua matthew william abc123 abcdef abcd1234 a1b2c3 aa123456
  starwars whatever freedom ninja mustang access flower lovely loveme lovers summer winter spring autumn
  internet computer pokemon killer pepper cheese ginger hannah maggie chelsea arsenal liverpool
  chocolate cookie banana orange purple silver golden diamond tigger yankees cowboys eagles
  qazwsx zaq12wsx 1qazxsw2 mypass mypassword default test test123 testing demo demo123 example
  mail email postmaster webmaster server linux ubuntu debian windows apple google facebook
  samsung nothing unknown secret123 pass pass123 pass1234 temp temp123 user user123 welcome123
  qwerty1 qwerty12 q1w2e3r4 q1w2e3r4t5 1234qwer asdf1234 asdf asdfasdf jklfdsa 11111111 22222222
  88888888 99999999 12341234 1111111111 0987654321 147258369 159753 789456123 147852369 aaaaaa
  abcabc xxxxxx mmmmmm trustme fuckyou fuckoff biteme blahblah iloveu loveyou babygirl
  michelle nicole daniel1 jessica1 justin hello123 hellohello goodbye letmein1 whatever1 mustang1
  dragon1 monkey1 shadow1 master1 superman1 sunshine1 princess1 football1 baseball1 charlie1 jordan23
  passpass qweasd qweasdzxc 123qwe 123abc abc12345 password! changeit rootroot adminadmin admin123
  administrator1 secure security letmein123 openup opensesame`.split(/\s+/).filter(Boolean),
);
