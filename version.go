package nsqpub

// VERSION is go-nsq's name for the library's version, kept so that code
// naming it compiles. It holds nsqpub's version (Version), not go-nsq's: it
// is what the default user agent "nsqpub/<Version>" reports to nsqd.
const VERSION = Version
