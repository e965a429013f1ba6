package org.jalign.train;

/** A few paragraphs of plain English prose for training tests (about 4 KB). */
final class Corpus {
  private Corpus() {}

  static final String TEXT = """
      The river runs past the old mill and under the stone bridge before it reaches the town. In spring the water
      rises and the children watch it from the bank, counting the branches that float by. The miller says that the
      river has not flooded the square in forty years, but every spring he moves the flour sacks to the upper floor
      all the same. He is a careful man, and his father was careful before him.
      On market days the square fills with carts. Farmers bring apples, cheese, eggs and bread, and they call out
      their prices to anyone who walks by. The baker sells the best bread in the valley, or so she tells everyone,
      and most people agree with her. Her loaves are round and dark, with a hard crust and a soft middle. She bakes
      them before dawn, when the streets are still quiet and the lamps are still lit.
      The school stands at the top of the hill. It has one large room, a small library and a garden where the
      children grow beans and potatoes. The teacher reads to them every afternoon. This year she is reading a book
      about a sailor who travels across the sea to find his brother. The children ask her to read one more chapter
      every day, and every day she says that they must wait until tomorrow.
      In the evening the people of the town gather at the inn. They talk about the weather, the harvest and the
      price of wool. The innkeeper knows every story in the valley and tells them again whenever a traveller
      arrives. He tells of the winter when the snow reached the windows, of the summer when the well ran dry, and of
      the night when the bell in the tower rang by itself. Nobody believes the last story, but everybody likes it.
      When the travellers leave in the morning they cross the bridge and follow the road along the river. The road
      climbs slowly through the fields and the woods until it reaches the pass. From the pass they can see the
      whole valley: the mill, the bridge, the square, the school on the hill and the smoke rising from the chimneys.
      Most of them stop for a moment to look back before they go on.
      The miller's daughter wants to become a sailor like the man in the book. She has never seen the sea, but she
      has read about it and she has heard the travellers talk about it. She says that one day she will cross the
      pass and follow the road to the coast. Her father says that the sea is cold and the ships are small, but he
      smiles when he says it, because he was young once too and he also wanted to see the world.
      In autumn the leaves turn red and gold, and the farmers bring the last of the harvest to the market. The
      baker makes bread with nuts and honey, and the children collect chestnuts in the woods. The river is low and
      clear, and the miller can see the stones on the bottom. He says that it will be a long winter, and he is
      usually right about these things.
      When the first snow falls the town becomes quiet. The carts stay in the barns, the market closes, and the
      people stay near their fires. The teacher still reads to the children, and the innkeeper still tells his
      stories, but fewer travellers come over the pass. The river freezes at the edges, and the mill wheel turns
      slowly in the dark water. Everyone waits for the spring, when the river will rise again and the children will
      stand on the bank and count the branches as they float by.
      """;
}
